"""The catalog's naming pattern: ``<org>/<family>:<params>-<quant>[-<context>]`` and the like.

A pattern is literal text with ``<token>`` placeholders; ``[...]`` marks a part that is left out
when a token inside it has no value. The values come from the model's own metadata (see
``name_fields``), so a name can be both derived (``render``) and checked (``parse``).
"""

import re
from dataclasses import dataclass
from typing import Any

from compose_models.errors import UserError
from compose_models.store.reference import parse_reference

DEFAULT_PATTERN = "<org>/<family>:<params>-<quant>[-<context>]"
TOKENS = ("org", "family", "params", "quant", "context")
REQUIRED_TOKENS = ("org", "family")
_TOKEN_REGEX = {
    "family": r"[a-z0-9]+(?:[._-][a-z0-9]+)*",
    "params": r"\d+(?:\.\d+)?[KMBTQ]?",
    "quant": r"[A-Za-z0-9_]+",
    "context": r"\d+k?",
}
_PIECE = re.compile(r"<([a-z]+)>|\[|\]|[^<\[\]]+|.")
_NUMBER_WITH_UNIT = re.compile(r"(\d+(?:\.\d+)?)\s*([A-Za-z]*)")


@dataclass(frozen=True)
class OrgPrefix:
    """Where a catalog lives: a registry and a namespace in it, e.g. ``localhost:5000`` and ``myorg``."""

    registry: str
    namespace: str

    @classmethod
    def parse(cls, text: str) -> "OrgPrefix":
        """``registry/namespace`` (or ``namespace`` alone, on Docker Hub), normalised as references are."""
        try:
            reference = parse_reference(f"{text.strip().rstrip('/')}/model")
        except UserError as error:
            raise UserError(f"{text!r} is not a registry/organisation prefix: {error}") from error
        return cls(reference.registry, reference.repository.removesuffix("/model"))

    def __str__(self) -> str:
        return f"{self.registry}/{self.namespace}"

    def holds(self, repository: str) -> bool:
        return repository.startswith(f"{self.namespace}/")


@dataclass(frozen=True)
class _Token:
    name: str


@dataclass(frozen=True)
class _Optional:
    parts: tuple["str | _Token", ...]


_Part = str | _Token | _Optional


class NamePattern:
    def __init__(self, pattern: str) -> None:
        self.text = pattern
        self._parts = _parse(pattern)

    def render(self, fields: dict[str, str | None]) -> str:
        """The name with every token filled; optional parts whose tokens have no value are left out."""
        rendered = []
        for part in self._parts:
            if isinstance(part, _Optional):
                if all(fields.get(p.name) for p in part.parts if isinstance(p, _Token)):
                    rendered += [_fill(p, fields) for p in part.parts]
            else:
                rendered.append(_fill(part, fields))
        return "".join(rendered)

    def parse(self, reference: str, org: OrgPrefix) -> dict[str, str] | None:
        """The token values of a (normalised) reference, or None when it does not follow the pattern."""
        expression = "".join(_regex(part, org) for part in self._parts)
        match = re.fullmatch(expression, reference)
        if match is None:
            return None
        return {name: value for name, value in match.groupdict().items() if value is not None}


def name_fields(config: dict[str, Any], family: str, org: OrgPrefix) -> dict[str, str | None]:
    """The token values the model's own metadata gives (``family`` is the team's choice)."""
    context = config.get("context_size")
    return {
        "org": str(org),
        "family": family,
        "params": parameters_label(config),
        "quant": config.get("quantization") or None,
        "context": context_label(context) if isinstance(context, int) and context > 0 else None,
    }


def parameters_label(config: dict[str, Any]) -> str | None:
    """The GGUF's own ``general.size_label`` (``135M``), else the parameter count to 3 digits (``1.24B``)."""
    size_label = (config.get("gguf") or {}).get("general.size_label", "").strip()
    if re.fullmatch(_TOKEN_REGEX["params"], size_label):
        return size_label
    match = _NUMBER_WITH_UNIT.fullmatch(str(config.get("parameters") or "").strip())
    if match is None:
        return None
    return f"{float(match[1]):.3g}{match[2].upper()}"


def check_family(family: str) -> str:
    if not re.fullmatch(_TOKEN_REGEX["family"], family):
        raise UserError(
            f"family {family!r}: expected lower-case letters and digits separated by '.', '_' or '-' (e.g. llama3.2)"
        )
    return family


def context_label(tokens: int) -> str:
    """``8192`` → ``8k``; a size that is not a whole number of 1024 tokens is written out."""
    return f"{tokens // 1024}k" if tokens % 1024 == 0 else str(tokens)


def _fill(part: "str | _Token", fields: dict[str, str | None]) -> str:
    if isinstance(part, str):
        return part
    value = fields.get(part.name)
    if not value:
        raise UserError(f"the naming pattern needs <{part.name}>, but the model's metadata does not record it")
    return value


def _regex(part: _Part, org: OrgPrefix) -> str:
    if isinstance(part, str):
        return re.escape(part)
    if isinstance(part, _Optional):
        return f"(?:{''.join(_regex(p, org) for p in part.parts)})?"
    value_regex = re.escape(str(org)) if part.name == "org" else _TOKEN_REGEX[part.name]
    return f"(?P<{part.name}>{value_regex})"


def _parse(pattern: str) -> list[_Part]:
    """Split a pattern into literal text, tokens and (unnested) optional parts; UserError on a bad one."""
    parts: list[_Part] = []
    optional: list[str | _Token] | None = None
    seen: set[str] = set()
    for match in _PIECE.finditer(pattern):
        piece = match.group(0)
        if piece == "[":
            if optional is not None:
                raise UserError(f"naming pattern {pattern!r}: optional parts '[...]' cannot be nested")
            optional = []
        elif piece == "]":
            if optional is None:
                raise UserError(f"naming pattern {pattern!r}: ']' without '['")
            parts.append(_Optional(tuple(optional)))
            optional = None
        else:
            item = _token(match, pattern, seen) if match.group(1) else piece
            (parts if optional is None else optional).append(item)
    if optional is not None:
        raise UserError(f"naming pattern {pattern!r}: '[' without ']'")
    missing = [f"<{name}>" for name in REQUIRED_TOKENS if name not in seen]
    if missing:
        raise UserError(f"naming pattern {pattern!r} must contain {' and '.join(missing)}")
    return parts


def _token(match: re.Match[str], pattern: str, seen: set[str]) -> _Token:
    name = match.group(1)
    if name not in TOKENS:
        expected = ", ".join(f"<{token}>" for token in TOKENS)
        raise UserError(f"naming pattern {pattern!r}: unknown token <{name}> (expected {expected})")
    if name in seen:
        raise UserError(f"naming pattern {pattern!r}: <{name}> appears twice")
    seen.add(name)
    return _Token(name)
