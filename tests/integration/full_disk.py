"""A small tmpfs that a test mounts for a runner's home (or its store) and fills, to see what a full disk does."""

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import require


@contextlib.contextmanager
def small_tmpfs(folder: Path, size_mib: int) -> Iterator[Path]:
    """``folder`` as a tmpfs of ``size_mib`` MiB, unmounted afterwards (mounting needs root)."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mib}m,mode=0700", "tmpfs", str(folder)], capture_output=True, text=True
    )
    reason = f"mounting a tmpfs (as root) for a full disk: {mounted.stderr.strip()}"
    require(mounted.returncode == 0, reason, linux_only=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def fill(folder: Path, leave: int = 0) -> Path:
    """A file in ``folder`` that takes every free byte of its file system, down to the last page, but ``leave``."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as file:
        for chunk in (1 << 20, 1 << 12, 1):
            while True:
                try:
                    file.write(b"\0" * chunk)
                except OSError as error:
                    assert error.errno == errno.ENOSPC, error
                    break
        if leave:
            file.truncate(file.tell() - leave)
    free = os.statvfs(folder)
    assert free.f_bavail * free.f_frsize <= leave  # less when another writer took some meanwhile
    return filler
