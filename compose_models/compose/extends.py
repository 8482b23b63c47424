"""``extends:``: a service built on another service of the same file or of another file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from compose_models.compose.files import absolute
from compose_models.compose.merge import merge_values, strip_tags
from compose_models.errors import UserError

# file -> its services, interpolated, with their own `extends` still unresolved
LoadServices = Callable[[Path], dict[str, Any]]


def apply_extends(data: dict[str, Any], file: Path, load_services: LoadServices) -> dict[str, Any]:
    """``data`` with every service's ``extends`` resolved (base first, then the service on top)."""
    services = data.get("services")
    if not isinstance(services, dict) or not any(
        isinstance(service, dict) and "extends" in service for service in services.values()
    ):
        return data
    resolved = {name: _resolve(name, services, file, load_services, ()) for name in services}
    return {**data, "services": resolved}


def _resolve(
    name: str,
    services: dict[str, Any],
    file: Path,
    load_services: LoadServices,
    chain: tuple[tuple[Path, str], ...],
) -> Any:
    service = services[name]
    if not isinstance(service, dict) or "extends" not in service:
        return service
    if (file, name) in chain:
        raise UserError(f"{file}: services.{name}.extends: circular reference with extends ({name} extends itself)")
    base_name, base_file = _target(service["extends"], file, name)
    base_services = services if base_file == file else load_services(base_file)
    if not isinstance(base_services, dict) or base_name not in base_services:
        raise UserError(
            f"{file}: services.{name}.extends: cannot extend service {base_name!r}: "
            f"no such service in {base_file}"
        )
    base = _resolve(base_name, base_services, base_file, load_services, (*chain, (file, name)))
    local = {key: value for key, value in service.items() if key != "extends"}
    return merge_values(strip_tags(base) or {}, local, ("services", name))


def _target(extends: Any, file: Path, name: str) -> tuple[str, Path]:
    if isinstance(extends, str):
        return extends, file
    if not isinstance(extends, dict) or not isinstance(extends.get("service"), str):
        raise UserError(f"{file}: services.{name}.extends: must be a service name or a mapping with 'service'")
    other = extends.get("file")
    return extends["service"], file if other is None else absolute(other, file.parent)
