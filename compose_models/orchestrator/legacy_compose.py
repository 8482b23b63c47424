"""Copies of a project's compose files without ``models:``, for a Docker Compose older than 2.38.

Such a Compose validates every file on its own and rejects the ``models`` keys before any override
could remove them, so it is handed copies instead. The copies keep everything else as written
(anchors, tags, comments) and point ``extends.file`` and ``include`` at copies of those files too,
by absolute path, since the copies live in compose-models' own state directory.
"""

import hashlib
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from compose_models.errors import UserError


def files_without_models(config_files: list[Path], directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    copies: dict[Path, Path] = {}
    return [_copy(path.resolve(), directory, copies) for path in config_files]


def _copy(source: Path, directory: Path, copies: dict[Path, Path]) -> Path:
    if source in copies:
        return copies[source]
    target = directory / f"{hashlib.sha256(str(source).encode()).hexdigest()[:12]}-{source.name}"
    copies[source] = target
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    try:
        documents = list(yaml.load_all(source.read_text()))
    except Exception as error:  # ruamel raises many types; the loader has already reported real syntax errors
        raise UserError(f"{source}: cannot rewrite it for this Docker Compose: {error}") from None
    for document in documents:
        if isinstance(document, dict):
            _strip(document, source.parent, directory, copies)
    with target.open("w") as out:
        yaml.dump_all(documents, out)
    return target


def _strip(document: dict[str, Any], base: Path, directory: Path, copies: dict[Path, Path]) -> None:
    document.pop("models", None)
    for service in (document.get("services") or {}).values():
        if not isinstance(service, dict):
            continue
        service.pop("models", None)
        extends = service.get("extends")
        if isinstance(extends, dict) and isinstance(extends.get("file"), str):
            extends["file"] = str(_copy((base / extends["file"]).resolve(), directory, copies))
    includes = document.get("include") or []
    for position, entry in enumerate(includes):
        if isinstance(entry, str):
            includes[position] = _included(entry, base, directory, copies)
        elif isinstance(entry, dict) and entry.get("path"):
            paths = entry["path"]
            if isinstance(paths, str):
                entry.setdefault("project_directory", str((base / paths).resolve().parent))
                entry["path"] = _included(paths, base, directory, copies)
            else:
                entry.setdefault("project_directory", str((base / paths[0]).resolve().parent))
                entry["path"] = [_included(path, base, directory, copies) for path in paths]


def _included(path: str, base: Path, directory: Path, copies: dict[Path, Path]) -> str:
    return str(_copy((base / path).resolve(), directory, copies))
