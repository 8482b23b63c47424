"""End to end on a real Docker engine and Compose v2: `compose-models up` gives a container a working model."""

import json
import re
import uuid

import pytest

from tests.conftest import REPO, LOCAL_MODEL_TAG, docker_available, free_port, require, run_cli

pytestmark = pytest.mark.docker


@pytest.fixture
def docker() -> None:
    require(docker_available(), "a running Docker engine")


def _answer_from(output: str) -> dict:
    for line in output.splitlines():
        _, _, payload = line.partition("| ")
        if payload.startswith("{") and '"choices"' in payload:
            return json.loads(payload)
    raise AssertionError(f"no chat completion in the container output:\n{output}")


def test_up_hello_example_prints_the_assistants_answer(docker, packaged_smollm2: str, monkeypatch) -> None:
    monkeypatch.setenv("COMPOSE_MODELS_PORT", str(free_port()))
    project = f"hello-{uuid.uuid4().hex[:8]}"
    compose_file = str(REPO / "examples/compose/hello/compose.yaml")
    try:
        result = run_cli("up", "-f", compose_file, "-p", project, "--", "--abort-on-container-exit")
        output = result.stdout + result.stderr
        asked = re.search(r"asking (\S+) at (\S+)", output)
        assert asked, output
        assert asked.group(1) == LOCAL_MODEL_TAG  # LLM_MODEL is the model reference from compose.yaml
        assert asked.group(2).endswith("/engines/v1/chat/completions")
        answer = _answer_from(output)
        assert answer["choices"][0]["message"]["role"] == "assistant"
        assert answer["choices"][0]["message"]["content"].strip()
    finally:
        run_cli("down", "-f", compose_file, "-p", project, check=False)
        run_cli("stop", check=False)
