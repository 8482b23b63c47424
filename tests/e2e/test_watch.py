"""`compose-models watch` follows edits of compose.yaml on a running stack (real engine, Compose v2, model)."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import LOCAL_MODEL_TAG, free_port, require_docker_and_busybox, run_cli

pytestmark = pytest.mark.docker

STACK = """\
services:
  app:
    image: busybox:1.36
    command: ["sleep", "3600"]
    models: {bindings}
models:
  llm:
    model: local/smollm2:135m-q4_1
    context_size: {context_size}
"""


def _wait_for(watcher: subprocess.Popen, log: Path, text: str, after: int, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and watcher.poll() is None:
        output = log.read_text()[after:]
        if text in output:
            return output
        time.sleep(0.2)
    raise AssertionError(f"watch never said {text!r}:\n{log.read_text()}")


def _container(project: str) -> str:
    return subprocess.run(
        ["docker", "compose", "-p", project, "ps", "-q", "app"], capture_output=True, text=True, check=True
    ).stdout.strip()


def _environment(container: str) -> str:
    return subprocess.run(
        ["docker", "inspect", "-f", "{{range .Config.Env}}{{println .}}{{end}}", container],
        capture_output=True, text=True, check=True,
    ).stdout


def _chat(port: int, words: int) -> httpx.Response:
    body = {"model": LOCAL_MODEL_TAG, "max_tokens": 2, "messages": [{"role": "user", "content": "word " * words}]}
    return httpx.post(f"http://127.0.0.1:{port}/engines/v1/chat/completions", json=body, timeout=120)


def test_watch_reconfigures_recreates_and_survives_a_bad_edit(packaged_smollm2, tmp_path, monkeypatch) -> None:
    require_docker_and_busybox()
    port = free_port()
    monkeypatch.setenv("COMPOSE_MODELS_PORT", str(port))
    compose_file = tmp_path / "compose.yaml"
    compose_file.write_text(STACK.format(bindings="[llm]", context_size=2048))
    project = f"watch-{port}"
    log = tmp_path / "watch.log"
    with open(log, "w") as sink:
        watcher = subprocess.Popen(
            [sys.executable, "-m", "compose_models", "watch", "-f", str(compose_file), "-p", project],
            stdout=sink, stderr=subprocess.STDOUT,
            # As from a terminal: a suite started in the background inherits SIGINT ignored, and then
            # the watcher could not be interrupted as a user interrupts it.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    try:
        _wait_for(watcher, log, "watching", 0)
        first = _container(project)
        assert f"LLM_MODEL={LOCAL_MODEL_TAG}" in _environment(first)
        assert _chat(port, 400).status_code == 200  # fits in 2048 tokens

        mark = len(log.read_text())
        compose_file.write_text(STACK.format(bindings="[llm]", context_size=128))
        _wait_for(watcher, log, "context size 128", mark)
        assert _chat(port, 400).status_code != 200  # reloaded with 128 tokens: the prompt no longer fits
        assert _chat(port, 20).status_code == 200
        assert _container(project) == first  # its variables did not change, so the container stays

        mark = len(log.read_text())
        compose_file.write_text(STACK.format(bindings="{llm: {endpoint_var: AI_URL}}", context_size=128))
        deadline = time.monotonic() + 120
        while _container(project) in ("", first) and time.monotonic() < deadline:
            time.sleep(0.5)
        second = _container(project)
        assert second != first
        assert "AI_URL=http" in _environment(second)

        mark = len(log.read_text())
        compose_file.write_text("services: [this is not\n")
        output = _wait_for(watcher, log, "invalid edit", mark)
        assert str(compose_file) in output
        time.sleep(2)
        assert _container(project) == second
        assert _chat(port, 20).status_code == 200
        assert watcher.poll() is None
    finally:
        watcher.send_signal(signal.SIGINT)
        try:
            watcher.wait(timeout=60)
        except subprocess.TimeoutExpired:
            watcher.kill()
            raise AssertionError(f"watch did not stop within 60 s of Ctrl-C:\n{log.read_text()[-4000:]}") from None
        compose_file.write_text(STACK.format(bindings="[llm]", context_size=128))
        subprocess.run(["docker", "compose", "-p", project, "down", "--timeout", "0"], capture_output=True)
        run_cli("stop", check=False)
