"""A real runner for the API tests, shared by the whole package: the real SmolLM2 model packaged into its
own store, ``compose-models serve`` in the foreground as a child process, stopped afterwards."""

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import LOCAL_MODEL_TAG, cli_headers, free_port, run_cli

ALLOWED_ORIGIN = "https://app.example.com"
# Tool parameters a 135M model fills reliably when a grammar holds it to them
CITY_PARAMETERS = {
    "type": "object",
    "properties": {"city": {"type": "string", "enum": ["Paris", "Berlin"]}},
    "required": ["city"],
}


@contextlib.contextmanager
def serving_runner(home: Path, gguf: Path, **extra_env: str) -> Iterator[str]:
    """Package SmolLM2 into ``home`` and serve it on a free port; yields the runner's URL."""
    env = {**os.environ, "COMPOSE_MODELS_HOME": str(home), **extra_env}
    run_cli("package", "--gguf", str(gguf), LOCAL_MODEL_TAG, env=env)
    port = free_port()
    log = open(home / "runner.log", "wb")  # noqa: SIM115 - the runner writes to it until the fixture ends
    process = subprocess.Popen(
        [sys.executable, "-m", "compose_models", "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, home / "runner.log")
        yield url
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def _wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the runner exited: {log.read_text()}")
        try:
            if httpx.get(f"{url}/engines/status", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"the runner did not answer: {log.read_text()}")


@pytest.fixture(scope="package")
def api_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The COMPOSE_MODELS_HOME of the shared runner, for tests that change its store with the CLI."""
    return tmp_path_factory.mktemp("api-runner")


@pytest.fixture(scope="package")
def api_runner(api_home: Path, smollm2_gguf: Path) -> Iterator[str]:
    with serving_runner(api_home, smollm2_gguf, COMPOSE_MODELS_ORIGINS=ALLOWED_ORIGIN) as url:
        yield url


@pytest.fixture(scope="package")
def manage(api_runner: str, api_home: Path) -> dict[str, str]:
    """The headers this machine's CLI sends the shared runner (its local key), which management needs."""
    return cli_headers(api_home)
