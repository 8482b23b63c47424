"""End to end on a real Docker engine and Compose v2: three ways a container gets a working model."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import LOCAL_MODEL_TAG, REPO, free_port, require, require_docker_and_busybox, run_cli
from tests.e2e.stack import asked_model_and_url, assistant_answer

pytestmark = pytest.mark.docker

HELLO = str(REPO / "examples/compose/hello/compose.yaml")
PROVIDER = str(REPO / "examples/compose/provider/compose.yaml")


@pytest.fixture
def project(packaged_smollm2: str, monkeypatch: pytest.MonkeyPatch):
    """A unique project name, a runner port of its own; the stack and the runner are gone afterwards."""
    require_docker_and_busybox()
    monkeypatch.setenv("COMPOSE_MODELS_PORT", str(free_port()))
    # Compose finds `compose-models` on PATH for provider services.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    started: list[str] = []
    yield name, started
    for compose_file in started:
        run_cli("down", "-f", compose_file, "-p", name, "--", "--timeout", "0", check=False)
    run_cli("stop", check=False)


def _docker_compose(*args: str) -> str:
    result = subprocess.run(["docker", "compose", *args], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_compose_models_up(project) -> None:
    name, started = project
    started.append(HELLO)
    result = run_cli("up", "-f", HELLO, "-p", name, "--", "--abort-on-container-exit")
    output = result.stdout + result.stderr
    model, url = asked_model_and_url(output)
    assert model == LOCAL_MODEL_TAG  # LLM_MODEL is the model reference from compose.yaml
    assert url.endswith("/engines/v1/chat/completions")
    assistant_answer(output)


def test_unmodified_docker_compose_up_through_the_plugin(project) -> None:
    name, started = project
    run_cli("install")
    started.append(HELLO)
    output = _docker_compose("-f", HELLO, "-p", name, "up", "--abort-on-container-exit")
    model, _ = asked_model_and_url(output)
    assert model == LOCAL_MODEL_TAG
    assistant_answer(output)


def test_provider_service(project) -> None:
    name, started = project
    started.append(PROVIDER)
    output = _docker_compose("-f", PROVIDER, "-p", name, "up", "--abort-on-container-exit", "--exit-code-from", "hello")
    model, _ = asked_model_and_url(output)
    assert model == LOCAL_MODEL_TAG
    assistant_answer(output)
    loaded = run_cli("ps", "--json").stdout
    assert "smollm2" in loaded
    _docker_compose("-f", PROVIDER, "-p", name, "down")
    assert "smollm2" not in run_cli("ps", "--json").stdout  # the provider's down unloaded the model


def test_compose_models_up_with_a_compose_that_predates_models(project, tmp_path, monkeypatch) -> None:
    legacy = REPO / ".cache/compose-v2.37.3/docker-compose"
    require(legacy.is_file(), f"Compose 2.37.3 at {legacy} (scripts/setup.sh fetches it)", linux_only=True)
    plugins = tmp_path / "docker-config/cli-plugins"
    plugins.mkdir(parents=True)
    (plugins / "docker-compose").symlink_to(legacy)
    monkeypatch.setenv("DOCKER_CONFIG", str(plugins.parent))
    name, started = project
    started.append(HELLO)
    result = run_cli("up", "-f", HELLO, "-p", name, "--", "--abort-on-container-exit")
    output = result.stdout + result.stderr
    assert asked_model_and_url(output)[0] == LOCAL_MODEL_TAG
    assistant_answer(output)
