"""Parse ``.env`` files the way compose-go's ``dotenv`` package does.

``export`` prefix, ``KEY=VALUE`` or ``KEY: VALUE``, a bare ``KEY`` inherits from the lookup
environment, ``#`` comments, unquoted values end at the line (`` #`` starts a comment), single quotes
are literal, double quotes expand escapes; unquoted and double-quoted values are interpolated with the
lookup environment first, then the keys read so far.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from compose_models.compose.interpolation import InterpolationError, substitute
from compose_models.errors import UserError

_KEY_CHARACTER = re.compile(r"[\w.\-\[\]]")
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", '"': '"', "$": "$$"}
_ESCAPE = re.compile(r"\\(0[0-7]{0,3}|.)", re.DOTALL)
_HORIZONTAL_SPACE = " \t\v\f\r\x85\xa0"


def read_env_file(path: Path, lookup_environment: Mapping[str, str]) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise UserError(f"{path}: cannot read env file: {error.strerror}") from None
    return parse_env(text, lookup_environment, str(path))


def parse_env(text: str, lookup_environment: Mapping[str, str], source: str = ".env") -> dict[str, str]:
    """Parse env-file text; ``lookup_environment`` answers bare keys and ``${VAR}`` first."""
    values: dict[str, str] = {}

    def lookup(name: str) -> str | None:
        if name in lookup_environment:
            return lookup_environment[name]
        return values.get(name)

    position = 0
    while True:
        start = _statement_start(text, position)
        if start is None:
            return values
        position = start
        line = text.count("\n", 0, position) + 1
        key, position, inherited = _key(text, position, source, line)
        if inherited:
            inherited_value = lookup_environment.get(key)
            if inherited_value is not None:
                values[key] = inherited_value
            continue
        value, position = _value(text, position, source, line)
        try:
            values[key] = value.text if value.quoted == "'" else substitute(value.text, lookup)
        except InterpolationError as error:
            raise UserError(f"{source}:{line}: {key}: {error}") from None


class _RawValue:
    def __init__(self, text: str, quoted: str) -> None:
        self.text = text
        self.quoted = quoted


def _statement_start(text: str, position: int) -> int | None:
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            return None
        if text[position] != "#":
            return position
        newline = text.find("\n", position)
        if newline < 0:
            return None
        position = newline


def _key(text: str, position: int, source: str, line: int) -> tuple[str, int, bool]:
    if text.startswith("export", position) and position + 6 < len(text) and text[position + 6] in _HORIZONTAL_SPACE:
        position += 6
        while position < len(text) and text[position] in _HORIZONTAL_SPACE:
            position += 1
    start = position
    while position < len(text) and text[position] not in "=:\n":
        character = text[position]
        if character not in _HORIZONTAL_SPACE and not _KEY_CHARACTER.fullmatch(character):
            raise UserError(f"{source}:{line}: unexpected character {character!r} in variable name")
        position += 1
    key = text[start:position].rstrip()
    if not key:
        raise UserError(f"{source}:{line}: missing variable name")
    if any(character in _HORIZONTAL_SPACE for character in key):
        raise UserError(f"{source}:{line}: key cannot contain a space")
    inherited = position >= len(text) or text[position] == "\n"
    position += 1
    while not inherited and position < len(text) and text[position] in _HORIZONTAL_SPACE:
        position += 1
    return key, position, inherited


def _value(text: str, position: int, source: str, line: int) -> tuple[_RawValue, int]:
    quote = text[position] if position < len(text) and text[position] in "'\"" else ""
    if not quote:
        end = text.find("\n", position)
        end = len(text) if end < 0 else end
        raw = text[position:end]
        comment = raw.find(" #")
        if comment >= 0:
            raw = raw[:comment]
        elif raw.startswith("#"):
            raw = ""
        return _RawValue(raw.rstrip(), ""), end
    index = position + 1
    while index < len(text):
        if text[index] == quote and text[index - 1] != "\\":
            inner = text[position + 1 : index]
            if quote == '"':
                inner = _ESCAPE.sub(_unescape, inner)
            else:
                inner = inner.replace("\\'", "'")
            return _RawValue(inner, quote), index + 1
        index += 1
    raise UserError(f"{source}:{line}: unterminated quoted value")


def _unescape(match: re.Match[str]) -> str:
    escaped = match.group(1)
    if escaped[0] == "0":
        return chr(int(escaped, 8))
    return _ESCAPES.get(escaped, match.group(0))
