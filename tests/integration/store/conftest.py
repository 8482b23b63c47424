"""Real OCI registries for the store tests: Debian's ``docker-registry`` (CNCF distribution) on loopback."""

import shutil
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, require

with warnings.catch_warnings():  # deprecated, but libxcrypt's bcrypt is what htpasswd files need
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt

REGISTRY_BINARY = "/usr/bin/docker-registry"
USER, PASSWORD = "tester", "s3cret"


def _start_registry(directory: Path, auth: str = "") -> Iterator[str]:
    require(Path(REGISTRY_BINARY).is_file(), f"{REGISTRY_BINARY} (apt-get install docker-registry)")
    port = free_port()
    config = directory / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {directory / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n{auth}"
    )
    process = subprocess.Popen([REGISTRY_BINARY, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_until_up(f"http://127.0.0.1:{port}/v2/", process)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def _wait_until_up(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {process.stderr.read().decode()}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"docker-registry did not answer on {url}")


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``127.0.0.1:PORT`` of an anonymous registry."""
    yield from _start_registry(tmp_path_factory.mktemp("registry"))


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``127.0.0.1:PORT`` of a registry that wants ``tester`` / ``s3cret`` (htpasswd, bcrypt)."""
    directory = tmp_path_factory.mktemp("auth-registry")
    htpasswd = directory / "htpasswd"
    htpasswd.write_text(f"{USER}:{crypt.crypt(PASSWORD, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))}\n")
    auth = f"auth:\n  htpasswd:\n    realm: test-realm\n    path: {htpasswd}\n"
    yield from _start_registry(directory, auth)


@pytest.fixture
def skopeo() -> str:
    path = shutil.which("skopeo")
    require(path is not None, "skopeo (apt-get install skopeo)")
    return str(path)
