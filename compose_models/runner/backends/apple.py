"""Whether this is a Mac with Apple silicon, and whether this Python runs there under Rosetta.

An x86-64 Python under Rosetta reports ``platform.machine() == "x86_64"``, so it would get an x86-64
(AVX2) build without Metal; macOS says so only through ``sysctl -n sysctl.proc_translated`` (1 when
the process is translated, 0 when native, no such key on an Intel Mac).

This module imports nothing from compose_models, so set-up scripts may use it before the package's
dependencies are installed.
"""

import os
import platform
import shutil
import subprocess
import sys


def sysctl(name: str) -> str | None:
    """``sysctl -n name``, or None when there is no such key (or no sysctl)."""
    search = os.pathsep.join(filter(None, [os.environ.get("PATH", os.defpath), "/usr/sbin"]))
    binary = shutil.which("sysctl", path=search)
    if binary is None:
        return None
    try:
        done = subprocess.run([binary, "-n", name], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def under_rosetta() -> bool:
    """True for a process translated by Rosetta 2: an x86-64 Python on Apple silicon."""
    return sys.platform == "darwin" and sysctl("sysctl.proc_translated") == "1"


def apple_silicon() -> bool:
    """A Mac with Apple silicon, whatever this Python was built for."""
    return sys.platform == "darwin" and (platform.machine() == "arm64" or under_rosetta())
