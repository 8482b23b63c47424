"""Temporary files of the store's writers (a blob upload, an ingested GGUF, a model being created), named
with the writing process's id, and swept when the runner starts once that process is gone: a writer killed
mid-way (a crash, a dropped upload, a full disk) would otherwise leave its file on the disk for good.

A name without a process id (written before ids were put in the names) is swept once it is an hour old.
The CLI writes such files too (``package`` ingests), so a live writer's file is never touched."""

import os
import re
import shutil
import time
from pathlib import Path

KINDS = ("upload", "ingest", "create")
UNOWNED_AGE_SECONDS = 3600
_NAME = re.compile(rf"\.({'|'.join(KINDS)})-(?:(\d+)-)?")


def temporary_prefix(kind: str) -> str:
    """The prefix of a temporary file or folder of this process, for ``tempfile``."""
    assert kind in KINDS
    return f".{kind}-{os.getpid()}-"


def sweep_leftovers(store_root: Path) -> list[Path]:
    """Remove the temporary files and folders whose writer is gone; the paths removed. Called before this
    process writes any, so a file named with its own id was left by an earlier process that had that id."""
    removed = []
    for folder in (store_root, store_root / "blobs" / "sha256"):
        try:
            entries = list(folder.iterdir())
        except OSError:
            continue
        for path in entries:
            if _abandoned(path):
                try:
                    shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
                except FileNotFoundError:
                    continue  # its writer finished after all
                removed.append(path)
    return removed


def _abandoned(path: Path) -> bool:
    match = _NAME.match(path.name)
    if match is None:
        return False
    if match[2] is not None:
        pid = int(match[2])
        return pid == os.getpid() or not _alive(pid)
    try:
        return time.time() - path.lstat().st_mtime > UNOWNED_AGE_SECONDS
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process (or an id no process can have, kept to be safe)
    return True
