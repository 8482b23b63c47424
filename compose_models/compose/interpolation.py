"""Compose's variable interpolation (compose-go ``template``), reproduced rule for rule.

``$$`` is a literal ``$``; ``$NAME`` and ``${NAME}`` take the value (blank when unset); inside braces
``:-``/``-`` give defaults, ``:?``/``?`` fail, ``:+``/``+`` give alternates. Defaults, alternates and
messages are interpolated first (eagerly, as Compose does, so an error inside an unused default still
fails). A ``$`` followed by anything else stays literal, but a ``${`` that does not form a valid
expression is an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from compose_models.compose.yaml_source import KeyPath, Override, Reset

Lookup = Callable[[str], "str | None"]

_PATTERN = re.compile(
    r"\$(?i:(?P<escaped>\$)|(?P<named>[_a-z][_a-z0-9]*)"
    r"|{(?:(?P<braced>[_a-z][_a-z0-9]*(?::?[-+?](.*))?)}|(?P<invalid>)))"
)
_NAME = re.compile(r"[_A-Za-z][_A-Za-z0-9]*")
_OPERATORS = (":?", "?", ":-", "-", ":+", "+")


class InterpolationError(Exception):
    """A template that cannot be substituted; ``str()`` is Compose's own wording."""


class MissingRequiredVariable(InterpolationError):
    def __init__(self, variable: str, reason: str) -> None:
        self.variable = variable
        text = f"required variable {variable} is missing a value"
        super().__init__(f"{text}: {reason}" if reason else text)


class InvalidTemplate(InterpolationError):
    def __init__(self, template: str) -> None:
        self.template = template
        super().__init__(f"invalid template {template!r}")


def substitute(template: str, lookup: Lookup) -> str:
    """Interpolate one string; raises :class:`InterpolationError`."""
    if "$" not in template:
        return template
    return _PATTERN.sub(lambda match: _replace(match.group(0), template, lookup), template)


def _replace(substring: str, template: str, lookup: Lookup) -> str:
    head, rest = _split_at_closing_brace(substring)
    match = _PATTERN.match(head)
    assert match is not None
    if match.group("escaped"):
        return "$"
    if match.group("named"):
        return lookup(match.group("named")) or ""
    substitution = match.group("braced")
    if not substitution:
        raise InvalidTemplate(template)
    name = _NAME.match(substitution).group(0)  # type: ignore[union-attr]
    operator = next((op for op in _OPERATORS if substitution.startswith(op, len(name))), None)
    if operator is None:
        return lookup(substitution) or ""
    argument = substitute(substitution[len(name) + len(operator) :], lookup)
    return _apply(operator, name, argument, lookup) + substitute(rest, lookup)


def _apply(operator: str, name: str, argument: str, lookup: Lookup) -> str:
    value = lookup(name)
    is_set = value is not None
    non_empty = bool(value)
    if operator in (":?", "?"):
        if not (non_empty if operator == ":?" else is_set):
            raise MissingRequiredVariable(name, argument)
        return value or ""
    if operator in (":-", "-"):
        use_default = not non_empty if operator == ":-" else not is_set
        return argument if use_default else value or ""
    use_alternate = non_empty if operator == ":+" else is_set
    return argument if use_alternate else value or ""


def _split_at_closing_brace(text: str) -> tuple[str, str]:
    # Compose counts every "{" (and skips the character after it) to find where "${...}" closes;
    # whatever follows the regex match beyond that point is interpolated on its own.
    depth = 0
    index = 0
    while index < len(text):
        if text[index] == "}":
            depth -= 1
            if depth == 0:
                return text[: index + 1], text[index + 1 :]
        if text[index] == "{":
            depth += 1
            index += 1
        index += 1
    return text, ""


def interpolate_tree(value: Any, lookup: Lookup, on_error: Callable[[KeyPath, InterpolationError], Exception],
                     path: KeyPath = ()) -> Any:
    """Interpolate every string value (never keys) of a loaded YAML tree.

    ``on_error`` turns a failure at a key path into the exception to raise (it knows the file).
    """
    if isinstance(value, str):
        try:
            return substitute(value, lookup)
        except InterpolationError as error:
            raise on_error(path, error) from None
    if isinstance(value, dict):
        return {key: interpolate_tree(item, lookup, on_error, (*path, key)) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate_tree(item, lookup, on_error, (*path, index)) for index, item in enumerate(value)]
    if isinstance(value, Reset):
        return Reset(interpolate_tree(value.value, lookup, on_error, path))
    if isinstance(value, Override):
        return Override(interpolate_tree(value.value, lookup, on_error, path))
    return value


def compose_path(path: KeyPath) -> str:
    """A key path written as Compose writes it in messages (list items as ``[]``)."""
    return ".".join("[]" if isinstance(part, int) else part for part in path)


def interpolation_message(path: KeyPath, error: InterpolationError) -> str:
    """Compose's text for a failed interpolation, on one line."""
    where = compose_path(path)
    if isinstance(error, InvalidTemplate):
        return (
            f"invalid interpolation format for {where}. You may need to escape any $ with another $. "
            f"{error.template}"
        )
    return f"error while interpolating {where}: {error}"
