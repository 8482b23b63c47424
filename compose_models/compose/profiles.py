"""Profiles: which services are enabled, and the checks Compose makes on the enabled set."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from compose_models.compose.schema import Checker
from compose_models.errors import UserError


def active_profiles(explicit: Sequence[str], environment: Mapping[str, str]) -> list[str]:
    """``--profile`` values, else ``COMPOSE_PROFILES`` (comma-separated, trimmed)."""
    if explicit:
        return list(explicit)
    return [name.strip() for name in environment.get("COMPOSE_PROFILES", "").split(",") if name.strip()]


def enabled_services(services: dict[str, Any], profiles: Sequence[str], checker: Checker) -> dict[str, dict[str, Any]]:
    """The services a command acts on: those without ``profiles`` or with an active one (``*`` = all)."""
    enabled = {}
    for name, service in services.items():
        service_profiles = checker.string_list(service.get("profiles", []), ("services", name, "profiles"))
        if not service_profiles or "*" in profiles or set(service_profiles) & set(profiles):
            enabled[name] = service
    for name, service in enabled.items():
        _check_dependencies(name, service, enabled)
    return enabled


def _check_dependencies(name: str, service: dict[str, Any], enabled: Mapping[str, Any]) -> None:
    depends_on = service.get("depends_on") or {}
    if isinstance(depends_on, list):
        depends_on = {dependency: {} for dependency in depends_on}
    for dependency, condition in depends_on.items():
        required = not isinstance(condition, dict) or condition.get("required", True) is not False
        if dependency not in enabled and required:
            raise UserError(f'service "{name}" depends on undefined service "{dependency}": invalid compose project')
