"""scripts/demo.sh on a machine whose engine cannot start: it exits non-zero and says why. `up` loads the
model before the hello container starts, so the engine's crash is what it reports.

The engine is a stand-in for llama-server that exits at once (tests/stand_in_llama_server.py); the
runner, Docker, Compose and the hello container are real. The demo runs with this test's own
COMPOSE_MODELS_HOME, DOCKER_CONFIG, runner port and Compose project name.
"""

import os
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.conftest import REPO, docker_available, free_port, require, run_cli
from tests.stand_in_llama_server import EXIT_AT_ONCE, start_count, write_stand_in

pytestmark = pytest.mark.docker

HELLO = str(REPO / "examples/compose/hello/compose.yaml")


def test_the_demo_exits_non_zero_saying_the_model_did_not_load(tmp_path: Path, smollm2_gguf: Path) -> None:
    require(docker_available(), "a running Docker engine")
    binary, starts = write_stand_in(tmp_path / "stand-in", EXIT_AT_ONCE)
    environment = {
        **os.environ,
        "LLAMA_SERVER_PATH": str(binary),
        "COMPOSE_MODELS_LLAMA_BACKEND": "llama-server",
        "COMPOSE_MODELS_PORT": str(free_port()),
        "COMPOSE_PROJECT_NAME": f"demo-{uuid.uuid4().hex[:8]}",
    }
    try:
        demo = subprocess.run(
            [str(REPO / "scripts/demo.sh")], env=environment, capture_output=True, text=True, timeout=1200
        )
    finally:
        run_cli("down", "-f", HELLO, "--", "--timeout", "0", check=False, env=environment)
        run_cli("stop", check=False, env=environment)
    output = demo.stdout + demo.stderr
    assert demo.returncode == 1, output
    assert "error: load local/smollm2:135m-q4_1: engine for 'docker.io/local/smollm2:135m-q4_1' crashed while loading" in output
    assert "stand-in llama-server: exiting at once, on purpose" in output  # the engine's own last words
    assert demo.stderr.strip().splitlines()[-1].startswith("demo: compose-models up failed (exit 1): the model did not load"), output
    assert start_count(starts) >= 1  # the runner did try the engine
    runner_log = run_cli("logs", "--no-engines", env=environment).stdout
    assert "crashed while loading: exited with status 1" in runner_log
