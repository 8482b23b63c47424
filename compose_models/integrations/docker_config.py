"""Our folder first in ``cliPluginsExtraDirs`` of the Docker CLI's ``config.json``, and taking it out again.

Docker searches the folders of ``cliPluginsExtraDirs`` before ``$DOCKER_CONFIG/cli-plugins`` and runs the
first ``docker-model`` it finds. Docker Desktop lists its app bundle there, whose ``docker-model`` it ships
even with Model Runner off; its bundle must not be edited (macOS App Management blocks it, updates undo
it), and dropping its folder would hide Compose and buildx too. So the take-over lists a folder of ours
that holds only ``docker-model`` before Desktop's, and leaves everything else as it was.

Every write is atomic (a temporary file in the same folder, then a rename) and recorded, with the bytes the
file had before, under ``$COMPOSE_MODELS_HOME/docker-plugin/``: when the file still holds exactly what we
wrote, undoing restores those bytes; when something changed it since (Desktop rewrites it when it starts,
``docker login`` adds credentials), undoing removes only our entry, and the key when we created it.
"""

import base64
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compose_models.atomic_file import replace_file
from compose_models.docker_host import docker_config_dir
from compose_models.errors import UserError
from compose_models.home import home_dir

KEY = "cliPluginsExtraDirs"


def config_file() -> Path:
    """``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``: the file the Docker CLI reads."""
    return docker_config_dir() / "config.json"


def takeover_dir() -> Path:
    """The folder listed first in ``cliPluginsExtraDirs``: it holds our ``docker-model`` and nothing else."""
    return home_dir() / "docker-plugin" / "cli-plugins"


def _record_file(config: Path) -> Path:
    digest = hashlib.sha256(str(config.absolute()).encode()).hexdigest()[:16]
    return home_dir() / "docker-plugin" / "records" / f"{digest}.json"


@dataclass(frozen=True)
class Config:
    path: Path
    raw: bytes | None  # None: there is no such file
    document: dict[str, Any]

    @property
    def extra_dirs(self) -> list[str]:
        return list(self.document.get(KEY) or [])


def read_config(path: Path | None = None) -> Config:
    """The config file, checked as far as we read or change it: a JSON object, ``cliPluginsExtraDirs`` a list of strings."""
    path = config_file() if path is None else path
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Config(path, None, {})
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror}") from None
    try:
        document = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (UnicodeDecodeError, ValueError) as error:
        raise UserError(f"{path} is not valid JSON ({error}); fix it, the Docker CLI cannot read it either") from None
    if not isinstance(document, dict):
        raise UserError(f"{path}: expected a JSON object at the top level, got {type(document).__name__}")
    dirs = document.get(KEY)
    if dirs is not None and not (isinstance(dirs, list) and all(isinstance(item, str) for item in dirs)):
        raise UserError(f"{path}: {KEY}: expected a list of folder names (strings), got {json.dumps(dirs)}")
    return Config(path, raw, document)


def _same_dir(first: str | Path, second: str | Path) -> bool:
    return os.path.normpath(os.path.expanduser(str(first))) == os.path.normpath(os.path.expanduser(str(second)))


def _indent(raw: bytes | None) -> str:
    """The indent the file uses (the Docker CLI writes tabs), so our change is the only visible one."""
    match = re.search(rb"\n([ \t]+)\S", raw or b"")
    return match.group(1).decode() if match else "\t"


def _render(document: dict[str, Any], like: bytes | None) -> bytes:
    text = json.dumps(document, indent=_indent(like), ensure_ascii=False)
    return (text + ("\n" if like is None or like.endswith(b"\n") else "")).encode("utf-8")


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` (the file a symlink points at, if it is one) with ``data`` in one rename, keeping its mode."""
    target = path.resolve()
    try:
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o600  # as the Docker CLI creates it: it may hold credentials
    try:
        replace_file(target, data, mode, sync_folder=True)
    except OSError as error:
        raise UserError(f"cannot write {target}: {error.strerror}; it was left as it was") from None


def _save_record(config: Config, record: dict[str, Any]) -> None:
    file = _record_file(config.path)
    file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # The config's bytes may hold registry credentials: this user only.
    handle = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(handle, "w") as stream:
        json.dump(record, stream, indent=2)


def _load_record(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(_record_file(path).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _holds_our_write(config: Config, record: dict[str, Any]) -> bool:
    """The file holds exactly what we last wrote: nothing else changed it since."""
    return config.raw is not None and record.get("written_sha256") == hashlib.sha256(config.raw).hexdigest()


def has_takeover_record(path: Path | None = None) -> bool:
    return _load_record(config_file() if path is None else path) is not None


def put_first(folder: Path) -> list[str]:
    """List ``folder`` first in ``cliPluginsExtraDirs``, keeping every other entry in its order; what was done."""
    config = read_config()
    dirs = config.extra_dirs
    if dirs and _same_dir(dirs[0], folder):
        return [f"{config.path} already lists {folder} first in {KEY}"]
    record = _load_record(config.path)
    if record is None or not _holds_our_write(config, record):  # what undoing must give back is what the file holds now
        record = {
            "config": str(config.path),
            "folder": str(folder),
            "created_file": config.raw is None,
            "created_key": KEY not in config.document,
            "original_base64": base64.b64encode(config.raw or b"").decode(),
        }
    document = dict(config.document)
    document[KEY] = [str(folder)] + [entry for entry in dirs if not _same_dir(entry, folder)]
    data = _render(document, config.raw)
    record["written_sha256"] = hashlib.sha256(data).hexdigest()
    _save_record(config, record)  # first: a write we did not record could not be undone
    write_atomically(config.path, data)
    after = f", before {', '.join(dirs)}" if dirs else ""
    return [f"listed {folder} first in {KEY} of {config.path}{after} (`compose-models uninstall` undoes it)"]


def take_out(folder: Path) -> list[str]:
    """Undo ``put_first``: the file's bytes from before when only we changed it, else only our entry removed."""
    config = read_config()
    record = _load_record(config.path)
    listed = any(_same_dir(entry, folder) for entry in config.extra_dirs)
    if record is None and not listed:
        return []
    done: list[str]
    if record is not None and _holds_our_write(config, record):
        if record.get("created_file"):
            config.path.resolve().unlink()
            done = [f"removed {config.path}, which install had created"]
        else:
            write_atomically(config.path, base64.b64decode(record.get("original_base64", "")))
            done = [f"restored {config.path} as it was before install"]
    elif listed:
        document = dict(config.document)
        document[KEY] = [entry for entry in config.extra_dirs if not _same_dir(entry, folder)]
        if not document[KEY] and record is not None and record.get("created_key"):
            del document[KEY]
        write_atomically(config.path, _render(document, config.raw))
        done = [
            f"removed {folder} from {KEY} in {config.path} (the file changed since install: the rest is kept as it is now)"
        ]
    else:
        done = [f"{config.path} no longer lists {folder}; left it as it is"]
    _record_file(config.path).unlink(missing_ok=True)
    return done
