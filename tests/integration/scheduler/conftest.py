"""Runners for the scheduler tests, on each llama backend, with their engine processes in view.

The llama-server backend must be built on the machine (scripts/build-llama-server.sh); in CI a
missing build is a failure, not a skip.
"""

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from compose_models.runner.backends import llama_server, watchdog
from tests.conftest import LOCAL_MODEL_TAG, cli_headers, proc_dir, require, run_cli
from tests.integration.api.conftest import serving_runner

BACKENDS = ("llama-server", "llama-cpp-python")


def _required(backend: str) -> str:
    if backend == "llama-server":
        require(llama_server.find_binary() is not None, "llama-server is not built: run scripts/build-llama-server.sh")
    return backend


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return _required(request.param)


class Runner:
    """A runner serving from its own store, and what the tests ask of it."""

    def __init__(self, url: str, home: Path, environment: dict[str, str]) -> None:
        self.url = url
        self.home = home
        self.environment = environment

    def package(self, tag: str, gguf: Path, context_size: int) -> str:
        """Another model: the same weights under another configuration, so another model ID."""
        run_cli("package", "--gguf", str(gguf), "--context-size", str(context_size), tag, env=self.environment)
        return tag

    @property
    def manage(self) -> dict[str, str]:
        """The headers this machine's CLI sends it (its local key), which configure and unload need."""
        return cli_headers(self.home)

    def cli(self, *args: str, check: bool = True):
        return run_cli(*args, check=check, env=self.environment)

    def complete(self, model: str = LOCAL_MODEL_TAG, prompt: str = "1, 2, 3,", **fields) -> httpx.Response:
        body = {"model": model, "prompt": prompt, "max_tokens": 4, "temperature": 0, **fields}
        return httpx.post(f"{self.url}/engines/v1/completions", json=body, timeout=120)

    def loaded(self) -> list[str]:
        return [entry["model_name"] for entry in httpx.get(f"{self.url}/engines/ps", timeout=10).json()]

    def pid(self) -> int:
        return json.loads((self.home / "runner" / "state.json").read_text())["pid"]

    def engine_pids(self) -> list[int]:
        """Processes whose parent is the runner, but for the engines' watchdogs: its engines."""
        return [pid for pid in self._children() if not _is_watchdog(pid)]

    def watchdog_pids(self) -> list[int]:
        """The runner's children that watch over its engines (runner/backends/watchdog.py), one an engine."""
        return [pid for pid in self._children() if _is_watchdog(pid)]

    def _children(self) -> list[int]:
        runner_pid = self.pid()
        children = []
        for stat in proc_dir().glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == runner_pid and fields[0] != "Z":
                    children.append(int(stat.parent.name))
        return children


def _is_watchdog(pid: int) -> bool:
    try:
        return watchdog.__name__.encode() in (proc_dir() / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return False


@pytest.fixture
def start_runner(
    tmp_path_factory: pytest.TempPathFactory, smollm2_gguf: Path, backend: str
) -> Iterator[Callable[..., Runner]]:
    """``start_runner(home=None, **environment)``: a runner on ``backend`` with the SmolLM2 model packaged
    (in a new home, else in ``home``: a runner after another)."""
    with contextlib.ExitStack() as stack:

        def start(home: Path | None = None, **extra_environment: str) -> Runner:
            home = home or tmp_path_factory.mktemp("scheduler-runner")
            environment = {"COMPOSE_MODELS_LLAMA_BACKEND": backend, **extra_environment}
            url = stack.enter_context(serving_runner(home, smollm2_gguf, **environment))
            return Runner(url, home, {**os.environ, "COMPOSE_MODELS_HOME": str(home), **environment})

        yield start


@pytest.fixture(scope="module", params=BACKENDS)
def shared_runner(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, smollm2_gguf: Path) -> Iterator[Runner]:
    """A runner on each backend shared by a module's tests that leave its configuration as they found it
    (each runner start packages the model and loads an engine: seconds)."""
    backend = _required(request.param)
    home = tmp_path_factory.mktemp("shared-scheduler-runner")
    environment = {"COMPOSE_MODELS_LLAMA_BACKEND": backend}
    with serving_runner(home, smollm2_gguf, **environment) as url:
        yield Runner(url, home, {**os.environ, "COMPOSE_MODELS_HOME": str(home), **environment})


def wait_until(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False
