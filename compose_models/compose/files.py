"""Which Compose files a command reads, and the project's working directory."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from compose_models.errors import UserError

DEFAULT_FILE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
DEFAULT_OVERRIDE_NAMES = (
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
)
STDIN = "-"


def absolute(path: str | Path, base: Path) -> Path:
    """``path`` made absolute against ``base`` and normalised (like Go's ``filepath.Abs``)."""
    return Path(os.path.normpath(base / os.path.expanduser(str(path))))


def config_files(explicit: Sequence[str], environ: Mapping[str, str], cwd: Path, search_from: Path) -> list[Path]:
    """``-f`` files in order, else ``COMPOSE_FILE``, else the default files found from ``search_from`` upwards.

    ``-`` (standard input) is returned as ``Path("-")``.
    """
    if explicit:
        return [Path(STDIN) if name == STDIN else _existing(absolute(name, cwd)) for name in explicit]
    from_env = environ.get("COMPOSE_FILE", "")
    if from_env:
        separator = environ.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
        return [_existing(absolute(name, cwd)) for name in from_env.split(separator) if name]
    return _discover(search_from)


def _existing(path: Path) -> Path:
    if not path.exists():
        raise UserError(f"open {path}: no such file or directory")
    return path


def _discover(start: Path) -> list[Path]:
    directory = start
    while True:
        found = _first_file(directory, DEFAULT_FILE_NAMES)
        if found is not None:
            override = _first_file(directory, DEFAULT_OVERRIDE_NAMES)
            return [found] if override is None else [found, override]
        if directory.parent == directory:
            raise UserError(
                f"no configuration file provided: not found (looked for {', '.join(DEFAULT_FILE_NAMES)} "
                f"in {start} and its parents)"
            )
        directory = directory.parent


def _first_file(directory: Path, names: Sequence[str]) -> Path | None:
    for name in names:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None
