"""Read Compose YAML (1.2 semantics) into plain Python data, keeping line numbers and Compose's tags.

``yes``/``no``/``on``/``off`` stay strings (YAML 1.2), anchors, aliases and ``<<`` merge keys are
resolved by the parser, and the ``!reset`` / ``!override`` tags survive as :class:`Reset` /
:class:`Override` wrappers for the merge step to act on.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from compose_models.errors import UserError

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Reset:
    """A value tagged ``!reset``: the attribute is cleared when files are merged."""

    value: Any = None


@dataclass(frozen=True)
class Override:
    """A value tagged ``!override``: it replaces the attribute instead of being merged into it."""

    value: Any


@dataclass
class YamlDocument:
    """One YAML document of a Compose file, as plain data, with the line of every key."""

    source: str
    data: dict[str, Any]
    lines: dict[KeyPath, int] = field(default_factory=dict)


def read_compose_file(path: Path) -> list[YamlDocument]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"open {path}: no such file or directory") from None
    except OSError as error:
        raise UserError(f"{path}: cannot read: {error.strerror}") from None
    return parse_documents(text, str(path))


def parse_documents(text: str, source: str) -> list[YamlDocument]:
    """Parse every document of ``text``; ``source`` names the file in error messages."""
    parser = YAML(typ="rt")
    try:
        raw_documents = list(parser.load_all(text))
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = error.problem or error.context or "invalid YAML"
        raise UserError(f"{source}{where}: invalid YAML: {problem}") from None
    except YAMLError as error:
        raise UserError(f"{source}: invalid YAML: {error}") from None
    documents = []
    for raw in raw_documents:
        if raw is None:
            continue
        if not isinstance(raw, CommentedMap):
            line = _line_of(raw)
            raise UserError(f"{source}{line}: top-level object must be a mapping")
        lines: dict[KeyPath, int] = {}
        documents.append(YamlDocument(source, _to_plain(raw, (), lines, source), lines))
    return documents


def _line_of(node: Any) -> str:
    lc = getattr(node, "lc", None)
    return f":{lc.line + 1}" if lc is not None and lc.line is not None else ""


def _to_plain(node: Any, path: KeyPath, lines: dict[KeyPath, int], source: str) -> Any:
    tag = getattr(getattr(node, "tag", None), "value", None)
    if isinstance(node, CommentedMap):
        value: Any = _mapping(node, path, lines, source)
    elif isinstance(node, CommentedSeq):
        value = []
        for index, item in enumerate(node):
            position = node.lc.item(index) if node.lc.data else None
            lines[(*path, index)] = (position[0] if position else node.lc.line or 0) + 1
            value.append(_to_plain(item, (*path, index), lines, source))
    elif isinstance(node, TaggedScalar):
        value = _untagged_scalar(node)
    else:
        value = _scalar(node)
    if tag == "!reset":
        return Reset(value)
    if tag == "!override":
        return Override(value)
    return value


def _mapping(node: CommentedMap, path: KeyPath, lines: dict[KeyPath, int], source: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, item in node.items():
        key_path = (*path, key)
        try:
            lines[key_path] = node.lc.key(key)[0] + 1
        except (KeyError, TypeError):  # keys brought in by a `<<` merge have no position of their own
            lines.setdefault(key_path, (node.lc.line or 0) + 1)
        if not isinstance(key, str):
            dotted = ".".join(str(part) for part in path) or "top level"
            raise UserError(
                f"{source}:{lines[key_path]}: {dotted}: non-string key {key!r}: keys must be strings (quote it)"
            )
        result[key] = _to_plain(item, key_path, lines, source)
    return result


def _untagged_scalar(node: TaggedScalar) -> Any:
    # A custom tag hides the scalar's type; resolve it as the untagged scalar would have been.
    if node.style is not None:
        return node.value
    if node.value == "":
        return None
    return _scalar(YAML(typ="rt").load(node.value))


def _scalar(node: Any) -> Any:
    if node is None or isinstance(node, bool):
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, (datetime.date, datetime.datetime)):
        return node.isoformat()
    return str(node)


class SourceMap:
    """Finds which file (and line) a key path of the merged project came from, for error messages."""

    def __init__(self) -> None:
        self._documents: list[YamlDocument] = []

    def add(self, document: YamlDocument, prefix: KeyPath = ()) -> None:
        """Record ``document``; ``prefix`` places it in the project (e.g. a service pulled in by extends)."""
        if prefix:
            lines = {(*prefix, *path): line for path, line in document.lines.items()}
            document = YamlDocument(document.source, document.data, lines)
        self._documents.append(document)

    def locate(self, path: KeyPath) -> str:
        """``file:line`` of the latest document that defines ``path`` (or its closest parent)."""
        for length in range(len(path), 0, -1):
            for document in reversed(self._documents):
                line = document.lines.get(path[:length])
                if line is not None:
                    return f"{document.source}:{line}"
        return self._documents[-1].source if self._documents else "compose file"
