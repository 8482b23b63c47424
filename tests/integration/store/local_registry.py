"""Debian's ``docker-registry`` (CNCF distribution 2.8) on a free loopback port, for tests and bench/."""

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import free_port

REGISTRY_BINARY = "/usr/bin/docker-registry"


@contextmanager
def running_registry(directory: Path, auth: str = "", host: str = "127.0.0.1") -> Iterator[str]:
    """Yield ``HOST:PORT`` of a registry storing under ``directory``; ``auth`` is a YAML ``auth:`` block."""
    port = free_port()
    config = directory / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {directory / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: {host}:{port}\n{auth}"
    )
    process = subprocess.Popen([REGISTRY_BINARY, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_until_up(f"http://{host}:{port}/v2/", process)
        yield f"{host}:{port}"
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
