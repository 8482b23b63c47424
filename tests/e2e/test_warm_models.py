"""Warm models on a real Docker engine, Compose v2, runner and model: `up -d` loads each model before the
services start and keeps it loaded while the project is up, past its keep-alive and across a runner
restart (which also restores its configuration); `down` releases it, and it unloads after its keep-alive."""

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import LOCAL_MODEL_TAG, free_port, require_docker_and_busybox, run_cli

pytestmark = pytest.mark.docker

KEEP_ALIVE = 1.0  # seconds, the stack's x-keep-alive
STACK = f"""\
services:
  idle:
    image: busybox:1.36
    command: ["sleep", "600"]
    stop_signal: SIGKILL
    models: [llm]
models:
  llm:
    model: {LOCAL_MODEL_TAG}
    context_size: 1024
    runtime_flags: ["--temp", "0"]
    x-keep-alive: {KEEP_ALIVE:g}s
"""


@pytest.fixture
def stack(packaged_smollm2: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A compose file, a unique project name and a runner port of their own; all gone afterwards."""
    require_docker_and_busybox()
    monkeypatch.setenv("COMPOSE_MODELS_PORT", str(free_port()))
    monkeypatch.setenv("COMPOSE_MODELS_PROJECT_CHECK_INTERVAL", "0.5s")  # the runner (started by up) inherits it
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    compose_file = tmp_path / "compose.yaml"
    compose_file.write_text(STACK)
    name = f"warm-{uuid.uuid4().hex[:8]}"
    yield str(compose_file), name
    subprocess.run(["docker", "compose", "-f", str(compose_file), "-p", name, "down", "--timeout", "0"],
                   capture_output=True, timeout=120, check=False)  # fmt: skip
    run_cli("stop", check=False)


def ps() -> list[dict]:
    return json.loads(run_cli("ps", "--json").stdout)


def configuration() -> dict:
    port = os.environ["COMPOSE_MODELS_PORT"]
    response = httpx.get(f"http://127.0.0.1:{port}/engines/_configure", params={"model": LOCAL_MODEL_TAG}, timeout=10)
    return response.json()[0]


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_up_keeps_the_model_loaded_past_its_keep_alive_and_a_restart_until_down(stack) -> None:
    compose_file, name = stack
    result = run_cli("up", "-f", compose_file, "-p", name, "-d")
    assert f"llm: loaded {LOCAL_MODEL_TAG} in " in result.stderr, result.stderr
    [entry] = ps()  # loaded before the services started
    assert entry["pinned_by"] == [name]
    source = f"compose project {name}"
    assert entry["settings"]["context-size"] == {"value": 1024, "from": source}
    table = run_cli("ps").stdout
    assert name in table and f"context-size 1024 ({source})" in table
    time.sleep(3 * KEEP_ALIVE)  # several keep-alives and project checks: still loaded
    assert [entry["model_name"] for entry in ps()] == [LOCAL_MODEL_TAG]

    run_cli("stop")
    run_cli("serve", "--detach")
    wait_for(lambda: [entry.get("pinned_by") for entry in ps()] == [[name]], timeout=120)  # loaded again, unasked
    restored = configuration()  # configurations and pins come back with the runner
    assert restored["Config"] == {"context-size": 1024, "runtime-flags": ["--temp", "0"], "keep_alive": "1s"}
    assert restored["Sources"] == {"context-size": source, "runtime-flags": source, "keep_alive": source}
    assert restored["PinnedBy"] == [name]
    inspected = json.loads(run_cli("inspect", LOCAL_MODEL_TAG).stdout)
    assert inspected["runner_configuration"]["from"]["context-size"] == source

    run_cli("configure", LOCAL_MODEL_TAG, "--context-size", "512")  # the project's up is no longer the source
    assert configuration()["Sources"]["context-size"] == "configure"
    run_cli("configure", "--reset", LOCAL_MODEL_TAG)
    assert configuration()["Config"] == {} and configuration()["Sources"]["context-size"] == "default"

    run_cli("configure", LOCAL_MODEL_TAG, "--keep-alive", f"{KEEP_ALIVE:g}s")
    port = os.environ["COMPOSE_MODELS_PORT"]
    body = {"model": LOCAL_MODEL_TAG, "prompt": "1, 2,", "max_tokens": 2, "temperature": 0}
    assert httpx.post(f"http://127.0.0.1:{port}/engines/v1/completions", json=body, timeout=120).status_code == 200
    time.sleep(3 * KEEP_ALIVE)  # the pin the restarted runner re-learned holds it past its keep-alive
    assert [entry.get("pinned_by") for entry in ps()] == [[name]]

    run_cli("down", "-f", compose_file, "-p", name, "--", "--timeout", "0")
    # Released by down (or, if it looked first, by the runner's own check of the engine's containers)...
    assert all("pinned_by" not in entry for entry in ps())
    wait_for(lambda: ps() == [])  # ...it unloads after its keep-alive


def test_unmodified_docker_compose_pins_through_the_plugin_and_its_down_releases(stack, monkeypatch) -> None:
    compose_file, name = stack
    monkeypatch.setenv("COMPOSE_MODELS_KEEP_ALIVE", f"{KEEP_ALIVE:g}s")  # Compose does not pass x-keep-alive
    run_cli("install")
    compose = ["docker", "compose", "-f", compose_file, "-p", name]
    up = subprocess.run([*compose, "up", "-d"], capture_output=True, text=True, timeout=600, check=False)
    assert up.returncode == 0, up.stdout + up.stderr
    [entry] = ps()  # loaded by the plugin's configure, before the services started
    assert entry["pinned_by"] == [name]
    time.sleep(3 * KEEP_ALIVE)
    assert [entry["model_name"] for entry in ps()] == [LOCAL_MODEL_TAG]
    down = subprocess.run([*compose, "down", "--timeout", "0"], capture_output=True, text=True, timeout=120, check=False)
    assert down.returncode == 0, down.stdout + down.stderr
    # Compose tells the runner nothing on down: the runner sees the project's containers gone.
    wait_for(lambda: ps() == [])
