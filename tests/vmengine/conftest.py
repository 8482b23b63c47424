"""The VM engine stand-in, started once per session (see vm_engine.py)."""

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest
from filelock import FileLock

from tests.conftest import require
from tests.vmengine.vm_engine import HOST_ENGINE, IMAGE, VmEngine, running_vm_engine


@pytest.fixture(scope="session")
def vm_engine() -> Iterator[VmEngine]:
    require(sys.platform == "linux", "Linux network namespaces, for the VM engine stand-in")
    require(os.geteuid() == 0, "root, to create a network namespace for the VM engine stand-in")
    for program in ("ip", "nsenter", "dockerd", "dnsmasq", "socat", "docker"):
        require(shutil.which(program) is not None, f"{program} for the VM engine stand-in (see scripts/setup.sh)")
    image = subprocess.run(["docker", "-H", HOST_ENGINE, "image", "inspect", IMAGE], capture_output=True)
    require(image.returncode == 0, f"{IMAGE} in the local Docker engine (scripts/setup.sh builds it)")
    # One namespace per machine: a second pytest session waits for the first instead of tearing it down.
    with FileLock("/tmp/compose-models-vmengine.lock", timeout=900), running_vm_engine() as engine:
        yield engine
