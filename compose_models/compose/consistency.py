"""The checks Compose makes on the enabled services once profiles are applied."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from compose_models.compose.schema import ModelDefinition, ServiceModelBinding
from compose_models.compose.yaml_source import SourceMap
from compose_models.errors import UserError


def check_enabled_services(
    enabled: Mapping[str, dict[str, Any]],
    bindings: Mapping[str, Mapping[str, ServiceModelBinding]],
    models: Mapping[str, ModelDefinition],
    sources: SourceMap,
) -> None:
    for name, service in enabled.items():
        if not any(key in service for key in ("image", "build", "provider")):
            raise UserError(
                f"{sources.locate(('services', name))}: service {name!r} has neither an image nor a build context "
                "specified: invalid compose project"
            )
        _check_dependencies(name, service, enabled, sources)
        for key in bindings.get(name, {}):
            if key not in models:
                where = sources.locate(("services", name, "models", key))
                raise UserError(f'{where}: service "{name}" refers to undefined model {key}: invalid compose project')


def _check_dependencies(name: str, service: dict[str, Any], enabled: Mapping[str, Any], sources: SourceMap) -> None:
    depends_on = service.get("depends_on") or {}
    if isinstance(depends_on, list):
        depends_on = {str(dependency): {} for dependency in depends_on}
    if not isinstance(depends_on, dict):
        where = sources.locate(("services", name, "depends_on"))
        raise UserError(f"{where}: services.{name}.depends_on: must be a list of service names or a mapping")
    for dependency, condition in depends_on.items():
        required = not isinstance(condition, dict) or condition.get("required", True) is not False
        if dependency not in enabled and required:
            where = sources.locate(("services", name, "depends_on"))
            raise UserError(
                f'{where}: service "{name}" depends on undefined service "{dependency}": invalid compose project'
            )
