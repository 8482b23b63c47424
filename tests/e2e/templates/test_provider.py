"""The provider template end to end: the model declared as a Compose provider service, which Compose runs
through `compose-models compose up` (found on PATH), and an app depending on it that gets LLM_URL and
LLM_MODEL; with `compose-models up` and with an unmodified `docker compose up`."""


import pytest

from tests.conftest import run_cli
from tests.e2e.templates.conftest import docker_compose

pytestmark = pytest.mark.docker


def _answer(output: str, model: str) -> str:
    assert f"app: asking {model} at http" in output, output  # LLM_MODEL and LLM_URL came from the provider
    assert "/engines/v1/" in output.split(f"app: asking {model} at ", 1)[1].splitlines()[0], output
    answer = output.split("app: answer:", 1)[1].splitlines()[0].strip()
    assert answer, output
    return answer


def test_compose_models_up_runs_the_provider_service(template_stack, packaged_smollm2: str) -> None:
    folder = template_stack("provider", llm=packaged_smollm2)
    result = run_cli("up", "-f", str(folder / "compose.yaml"), "--", "--abort-on-container-exit", "--exit-code-from", "app")
    _answer(result.stdout + result.stderr, packaged_smollm2)


def test_unmodified_docker_compose_up_and_down(template_stack, packaged_smollm2: str) -> None:
    folder = template_stack("provider", llm=packaged_smollm2)
    up = docker_compose(folder, "up", "--abort-on-container-exit", "--exit-code-from", "app")
    output = up.stdout + up.stderr
    _answer(output, packaged_smollm2)
    assert packaged_smollm2 in run_cli("ps", "--json").stdout  # the provider loaded the model on the runner
    docker_compose(folder, "down")
    assert packaged_smollm2 not in run_cli("ps", "--json").stdout  # and the provider's down unloaded it
