"""The project environment: the shell environment plus env files, with the shell always winning."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from compose_models.compose.dotenv import read_env_file
from compose_models.errors import UserError

_TRUE_WORDS = {"1", "t", "true"}


def env_files_to_load(explicit: Sequence[str], environ: Mapping[str, str], cwd: Path, working_dir: Path) -> list[Path]:
    """``--env-file`` values (else ``COMPOSE_ENV_FILES``), else ``<working dir>/.env`` if it is a file."""
    names = list(explicit) or [name for name in environ.get("COMPOSE_ENV_FILES", "").split(",") if name]
    if names:
        files = [(cwd / name).resolve() if not Path(name).is_absolute() else Path(name) for name in names]
        for file in files:
            if not file.exists():
                raise UserError(f"couldn't find env file: {file}")
        return files
    if environ.get("COMPOSE_DISABLE_ENV_FILE", "").strip().lower() in _TRUE_WORDS:
        return []
    dotenv = working_dir / ".env"
    return [dotenv] if dotenv.is_file() else []


def add_env_files(environment: dict[str, str], files: Sequence[Path]) -> None:
    """Read ``files`` (later ones override earlier ones) and add their keys that ``environment`` lacks."""
    from_files: dict[str, str] = {}
    for file in files:
        lookup = {**from_files, **environment}
        from_files.update(read_env_file(file, lookup))
    for key, value in from_files.items():
        environment.setdefault(key, value)
