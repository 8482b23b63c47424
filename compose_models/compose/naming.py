"""Project names: where they come from and Compose's normalisation."""

from __future__ import annotations

import re

from compose_models.errors import UserError

_NOT_ALLOWED = re.compile(r"[^a-z0-9_-]")


def normalize_project_name(name: str) -> str:
    """Lower-case, keep ``[a-z0-9_-]``, drop leading ``_``/``-`` (Compose's ``NormalizeProjectName``)."""
    return _NOT_ALLOWED.sub("", name.lower()).lstrip("_-")


def check_explicit_project_name(name: str, origin: str) -> str:
    """A name given by ``-p`` or ``COMPOSE_PROJECT_NAME`` must already be in normal form."""
    if name != normalize_project_name(name) or not name:
        raise UserError(
            f"invalid project name {name!r} (from {origin}): must consist only of lowercase alphanumeric "
            "characters, hyphens, and underscores as well as start with a letter or number"
        )
    return name
