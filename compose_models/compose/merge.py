"""Merge Compose files the way compose-go's ``override`` package does.

Mappings merge recursively, scalars are replaced, sequences are appended, except at the paths in
``_SPECIAL_RULES`` (service ``models``/``networks`` become maps and map-merge, ``command`` is replaced,
``environment`` and friends become ``KEY=VALUE`` lists, ...). ``!reset`` drops an attribute and
``!override`` replaces it without merging.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from compose_models.compose.yaml_source import KeyPath, Override, Reset
from compose_models.errors import UserError

Rule = Callable[[Any, Any, KeyPath], Any]


class MergeConflict(UserError):
    """A value of one kind (mapping, sequence, scalar) overridden by another kind."""

    def __init__(self, path: KeyPath, base: Any, override: Any) -> None:
        self.path = path
        super().__init__(f"{_dotted(path)}: cannot override {_kind(base)} with {_kind(override)}")


def merge_files(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """The result of loading ``override`` on top of ``base``; neither argument is modified."""
    return _merge_mappings(base, override, ())


def strip_tags(value: Any) -> Any:
    """``value`` with ``!reset`` entries removed and ``!override`` wrappers unwrapped."""
    if isinstance(value, Override):
        return strip_tags(value.value)
    if isinstance(value, dict):
        return {key: strip_tags(item) for key, item in value.items() if not isinstance(item, Reset)}
    if isinstance(value, list):
        return [strip_tags(item) for item in value if not isinstance(item, Reset)]
    return value


def merge_values(base: Any, override: Any, path: KeyPath) -> Any:
    if isinstance(override, Override):
        return strip_tags(override.value)
    rule = _rule_for(path)
    if rule is not None:
        return rule(base, strip_tags(override), path)
    if override is None:
        return base
    if isinstance(base, dict):
        if not isinstance(override, dict):
            raise MergeConflict(path, base, override)
        return _merge_mappings(base, override, path)
    if isinstance(base, list):
        if not isinstance(override, list):
            raise MergeConflict(path, base, override)
        return base + strip_tags(override)
    return strip_tags(override)


def _merge_mappings(base: dict[str, Any], override: dict[str, Any], path: KeyPath) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Reset):
            merged.pop(key, None)
        elif key not in merged:
            merged[key] = strip_tags(value)
        else:
            merged[key] = merge_values(merged[key], value, (*path, key))
    return merged


def _replace(_base: Any, override: Any, _path: KeyPath) -> Any:
    return override


def _to_mapping(value: Any, default: dict[str, Any] | None = None) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {str(item): dict(default) if default is not None else None for item in value}
    return {}


def _merge_as_mappings(base: Any, override: Any, path: KeyPath) -> Any:
    return _merge_mappings(_to_mapping(base), _to_mapping(override), path)


def _merge_depends_on(base: Any, override: Any, path: KeyPath) -> Any:
    default = {"condition": "service_started", "required": True}
    return _merge_mappings(_to_mapping(base, default), _to_mapping(override, default), path)


def _go_string(value: Any) -> str:
    """A scalar formatted as Go's ``%v`` formats it (``true``, ``1.5``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _to_sequence(value: Any) -> list[Any]:
    if isinstance(value, dict):
        items: list[str] = []
        for key, item in value.items():
            if item is None:
                items.append(key)
            elif isinstance(item, list):
                items.extend(f"{key}={_go_string(element)}" for element in item)
            else:
                items.append(f"{key}={_go_string(item)}")
        return sorted(items)
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [value]
    return []


def _merge_as_sequences(base: Any, override: Any, _path: KeyPath) -> Any:
    return _to_sequence(base) + _to_sequence(override)


def _merge_extra_hosts(base: Any, override: Any, _path: KeyPath) -> Any:
    right = _to_sequence(base)
    return right + [item for item in _to_sequence(override) if item not in right]


def _merge_build(base: Any, override: Any, path: KeyPath) -> Any:
    def as_mapping(value: Any) -> dict[str, Any]:
        return {"context": value} if isinstance(value, str) else _to_mapping(value)

    return _merge_mappings(as_mapping(base), as_mapping(override), path)


def _merge_logging(base: Any, override: Any, path: KeyPath) -> Any:
    if not isinstance(base, dict) or not isinstance(override, dict):
        return override
    if "driver" not in base or "driver" not in override or base["driver"] == override["driver"]:
        return _merge_mappings(base, override, path)
    return override


_SPECIAL_RULES: dict[KeyPath, Rule] = {
    ("networks", "*", "labels"): _merge_as_sequences,
    ("volumes", "*", "labels"): _merge_as_sequences,
    ("services", "*", "annotations"): _merge_as_sequences,
    ("services", "*", "build"): _merge_build,
    ("services", "*", "build", "args"): _merge_as_sequences,
    ("services", "*", "build", "additional_contexts"): _merge_as_sequences,
    ("services", "*", "build", "extra_hosts"): _merge_extra_hosts,
    ("services", "*", "build", "labels"): _merge_as_sequences,
    ("services", "*", "command"): _replace,
    ("services", "*", "depends_on"): _merge_depends_on,
    ("services", "*", "deploy", "labels"): _merge_as_sequences,
    ("services", "*", "dns"): _merge_as_sequences,
    ("services", "*", "dns_opt"): _merge_as_sequences,
    ("services", "*", "dns_search"): _merge_as_sequences,
    ("services", "*", "entrypoint"): _replace,
    ("services", "*", "env_file"): _merge_as_sequences,
    ("services", "*", "label_file"): _merge_as_sequences,
    ("services", "*", "environment"): _merge_as_sequences,
    ("services", "*", "extra_hosts"): _merge_extra_hosts,
    ("services", "*", "healthcheck", "test"): _replace,
    ("services", "*", "labels"): _merge_as_sequences,
    ("services", "*", "logging"): _merge_logging,
    ("services", "*", "models"): _merge_as_mappings,
    ("services", "*", "networks"): _merge_as_mappings,
    ("services", "*", "sysctls"): _merge_as_sequences,
    ("services", "*", "tmpfs"): _merge_as_sequences,
    ("services", "*", "ulimits", "*"): _replace,
}


def _rule_for(path: KeyPath) -> Rule | None:
    for pattern, rule in _SPECIAL_RULES.items():
        if len(pattern) == len(path) and all(p == "*" or p == part for p, part in zip(pattern, path)):
            return rule
    return None


def _dotted(path: KeyPath) -> str:
    return ".".join(str(part) for part in path)


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a sequence"
    if isinstance(value, dict):
        return "a mapping"
    return f"the scalar {value!r}"
