"""``include:``: load other Compose projects and import their resources into the current file."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from compose_models.compose.environment import add_env_files
from compose_models.compose.files import absolute
from compose_models.errors import UserError

IMPORTED_SECTIONS = ("services", "volumes", "networks", "secrets", "configs", "models")

# (files, environment, working directory, include chain) -> merged, interpolated content
LoadProject = Callable[[list[Path], dict[str, str], Path, tuple[Path, ...]], dict[str, Any]]


def apply_includes(
    data: dict[str, Any],
    source: str,
    working_dir: Path,
    environment: Mapping[str, str],
    chain: tuple[Path, ...],
    load_project: LoadProject,
) -> dict[str, Any]:
    """``data`` without its ``include`` key and with the included resources added."""
    entries = data.get("include")
    if entries is None:
        return data
    if not isinstance(entries, list):
        raise UserError(f"{source}: include: must be a list, got {type(entries).__name__}")
    result = {key: value for key, value in data.items() if key != "include"}
    for index, entry in enumerate(entries):
        files, project_dir, env_files = _entry(entry, working_dir, f"{source}: include[{index}]")
        if not files:
            continue
        for file in files:
            if file in chain:
                raise UserError(f"{source}: include cycle detected: {file} includes itself")
            if not file.exists():
                raise UserError(f"{source}: include[{index}]: open {file}: no such file or directory")
        included_environment = dict(environment)
        add_env_files(included_environment, [file for file in env_files if file.is_file()])
        included = load_project(files, included_environment, project_dir, chain)
        _import_resources(result, included, source)
    return result


def _entry(entry: Any, working_dir: Path, where: str) -> tuple[list[Path], Path, list[Path]]:
    if isinstance(entry, str):
        entry = {"path": entry}
    if not isinstance(entry, dict) or "path" not in entry:
        raise UserError(f"{where}: must be a path or a mapping with a 'path' key")
    unknown = set(entry) - {"path", "project_directory", "env_file"}
    if unknown:
        raise UserError(f"{where}: unknown key {sorted(unknown)[0]!r} (allowed: path, project_directory, env_file)")
    paths = entry["path"] if isinstance(entry["path"], list) else [entry["path"]]
    files = [absolute(path, working_dir) for path in paths if path != "/dev/null"]
    if not files:
        return [], working_dir, []
    project_dir = absolute(entry["project_directory"], working_dir) if entry.get("project_directory") else files[0].parent
    env_names = entry.get("env_file")
    if env_names is None:
        env_files = [project_dir / ".env"]
    else:
        env_files = [absolute(name, working_dir) for name in (env_names if isinstance(env_names, list) else [env_names])]
    return files, project_dir, env_files


def _import_resources(target: dict[str, Any], included: dict[str, Any], source: str) -> None:
    for section in IMPORTED_SECTIONS:
        imported = included.get(section) or {}
        if not imported:
            continue
        existing = target.get(section)
        merged = dict(existing) if isinstance(existing, dict) else {}
        for name, definition in imported.items():
            if name in merged and merged[name] != definition:
                raise UserError(f"{source}: {section}.{name} conflicts with imported resource")
            merged[name] = definition
        target[section] = merged
