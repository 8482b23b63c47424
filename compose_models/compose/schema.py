"""Typed Compose `models` elements, and the checks that stand in for Compose's JSON schema there.

Checks report one line: ``<file>:<line>: <key path>: <what was expected>``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from compose_models.compose.yaml_source import KeyPath, SourceMap
from compose_models.errors import UserError

MODEL_KEY_PATTERN = re.compile(r"^[a-zA-Z0-9._-]+$")
TOP_LEVEL_KEYS = {"version", "name", "include", "services", "networks", "volumes", "secrets", "configs", "models"}
_MODEL_FIELDS = {"model", "name", "context_size", "runtime_flags"}
_BINDING_FIELDS = {"endpoint_var", "model_var"}


class ModelDefinition(BaseModel):
    """One entry of the top-level ``models:`` element."""

    model_config = ConfigDict(frozen=True)

    model: str
    name: str | None = None
    context_size: int | None = None
    runtime_flags: list[str] = Field(default_factory=list)
    extensions: dict[str, Any] = Field(default_factory=dict)


class ServiceModelBinding(BaseModel):
    """How one service binds one model: the variable names it asks for (``None`` = Compose's default)."""

    model_config = ConfigDict(frozen=True)

    endpoint_var: str | None = None
    model_var: str | None = None
    extensions: dict[str, Any] = Field(default_factory=dict)


class SchemaError(UserError):
    pass


def _dotted(path: KeyPath) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".")


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, (int, float)):
        return f"number {value}"
    return "a sequence" if isinstance(value, list) else "a mapping"


class Checker:
    """Validates parts of the merged project, naming the file and line each problem came from."""

    def __init__(self, sources: SourceMap) -> None:
        self._sources = sources

    def fail(self, path: KeyPath, expected: str) -> SchemaError:
        return SchemaError(f"{self._sources.locate(path)}: {_dotted(path) or '(root)'}: {expected}")

    def expect(self, value: Any, check: Callable[[Any], bool], path: KeyPath, expected: str) -> None:
        if not check(value):
            raise self.fail(path, f"{expected}, got {_describe(value)}")

    def mapping(self, value: Any, path: KeyPath) -> dict[str, Any]:
        self.expect(value, lambda v: isinstance(v, dict), path, "must be a mapping")
        return value

    def string_list(self, value: Any, path: KeyPath, unique: bool = False) -> list[str]:
        self.expect(value, lambda v: isinstance(v, list), path, "must be a list of strings")
        for index, item in enumerate(value):
            self.expect(item, lambda v: isinstance(v, str), (*path, index), "must be a string")
        if unique and len(set(value)) != len(value):
            duplicate = next(item for item in value if value.count(item) > 1)
            raise self.fail(path, f"items must be unique, {duplicate!r} appears twice")
        return value

    def top_level(self, project: dict[str, Any]) -> None:
        for key in project:
            if key not in TOP_LEVEL_KEYS and not key.startswith("x-"):
                raise self.fail((key,), f"unknown top-level key (allowed: {', '.join(sorted(TOP_LEVEL_KEYS))}, x-*)")
        for key in ("services", "networks", "volumes", "secrets", "configs", "models"):
            if key in project:
                self.mapping(project[key], (key,))
        if "name" in project:
            self.expect(project["name"], lambda v: isinstance(v, str), ("name",), "must be a string")

    def models(self, raw_models: dict[str, Any]) -> dict[str, ModelDefinition]:
        # Compose validates an `x-` entry like any model, then keeps it as an extension, not a model.
        definitions = {key: self.model_definition(key, value) for key, value in raw_models.items()}
        return {key: definition for key, definition in definitions.items() if not key.startswith("x-")}

    def model_definition(self, key: str, value: Any) -> ModelDefinition:
        path: KeyPath = ("models", key)
        if not MODEL_KEY_PATTERN.match(key):
            raise self.fail(path, f"invalid model key {key!r}: must match {MODEL_KEY_PATTERN.pattern}")
        fields = self.mapping(value, path)
        self._no_unknown_keys(fields, _MODEL_FIELDS, path)
        if "model" not in fields:
            raise self.fail(path, "missing required key 'model' (the model reference, e.g. ai/smollm2)")
        self.expect(fields["model"], lambda v: isinstance(v, str), (*path, "model"), "must be a string")
        if "name" in fields:
            self.expect(fields["name"], lambda v: isinstance(v, str), (*path, "name"), "must be a string")
        if "context_size" in fields:
            self.expect(
                fields["context_size"],
                lambda v: isinstance(v, int) and not isinstance(v, bool),
                (*path, "context_size"),
                "must be an integer",
            )
        flags = self.string_list(fields.get("runtime_flags", []), (*path, "runtime_flags"))
        return ModelDefinition(
            model=fields["model"],
            name=fields.get("name"),
            context_size=fields.get("context_size"),
            runtime_flags=flags,
            extensions=_extensions(fields),
        )

    def service_models(self, service: str, value: Any) -> dict[str, ServiceModelBinding]:
        """A service's ``models`` in list or map syntax, as a map of bindings."""
        path: KeyPath = ("services", service, "models")
        if isinstance(value, list):
            return {key: ServiceModelBinding() for key in self.string_list(value, path, unique=True)}
        bindings = {}
        for key, binding in self.mapping(value, path).items():
            binding_path = (*path, key)
            if not MODEL_KEY_PATTERN.match(key):
                raise self.fail(binding_path, f"invalid model key {key!r}: must match {MODEL_KEY_PATTERN.pattern}")
            if binding is None:
                bindings[key] = ServiceModelBinding()
                continue
            fields = self.mapping(binding, binding_path)
            self._no_unknown_keys(fields, _BINDING_FIELDS, binding_path)
            for name in _BINDING_FIELDS & fields.keys():
                self.expect(fields[name], lambda v: isinstance(v, str), (*binding_path, name), "must be a string")
            bindings[key] = ServiceModelBinding(
                endpoint_var=fields.get("endpoint_var"),
                model_var=fields.get("model_var"),
                extensions=_extensions(fields),
            )
        return bindings

    def _no_unknown_keys(self, fields: dict[str, Any], allowed: set[str], path: KeyPath) -> None:
        for name in fields:
            if name not in allowed and not name.startswith("x-"):
                raise self.fail((*path, name), f"unknown key (allowed: {', '.join(sorted(allowed))}, x-*)")


def _extensions(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if name.startswith("x-")}
