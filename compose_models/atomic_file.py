"""Crash-safe file replacement: the bytes go to a temporary file beside the target, are synced, take the
mode the caller asks for, and replace the target in one rename. A crash leaves the old file or the new one,
never half of either; a failure removes the temporary file and is raised."""

import os
import tempfile
from pathlib import Path


def replace_file(path: Path, data: bytes, mode: int, sync_folder: bool = False) -> None:
    """``path`` now holds ``data`` with ``mode``; ``sync_folder``: the rename itself is synced too (the
    folder's entry), for a file whose loss after a power cut would cost the user more than a re-run."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    if sync_folder:
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
