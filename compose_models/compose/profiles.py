"""Profiles: which services are enabled."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from compose_models.compose.schema import Checker


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
    return enabled
