"""The rag template end to end: two model slots, `embeddings` and `chat` (both SmolLM2 here, whose embeddings
tell the template's three docs apart), bound to the app, which answers from the nearest file in ./docs and
names it; with `compose-models up` and with an unmodified `docker compose up` through the plugin.

The docs' vocabularies are distinct, and each question's nearest file was measured with the real model:
cosine 0.90 for docs/coffee-machine.md against 0.83 for the next, 0.87 for docs/vacation-policy.md against 0.79."""


import pytest

from tests.conftest import run_cli
from tests.e2e.templates.conftest import docker_compose

pytestmark = pytest.mark.docker


def _source_and_answer(output: str, model: str) -> tuple[str, str]:
    assert f"rag: indexed 3 files in docs/ with {model}" in output, output  # EMBEDDINGS_MODEL came from models:
    answer = output.split("rag: answer:", 1)[1].split("rag: source:", 1)[0].strip()
    assert answer, output
    return output.split("rag: source:", 1)[1].splitlines()[0].strip(), answer


def test_compose_models_up_answers_from_the_nearest_doc(template_stack, packaged_smollm2: str) -> None:
    folder = template_stack("rag", chat=packaged_smollm2, embeddings=packaged_smollm2)
    result = run_cli("up", "-f", str(folder / "compose.yaml"), "--", "--abort-on-container-exit", "--exit-code-from", "app")
    source, _ = _source_and_answer(result.stdout + result.stderr, packaged_smollm2)
    assert source == "docs/coffee-machine.md"  # the default question: how to descale the coffee machine


def test_unmodified_docker_compose_up_with_another_question(
    template_stack, packaged_smollm2: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = template_stack("rag", chat=packaged_smollm2, embeddings=packaged_smollm2)
    run_cli("install")
    monkeypatch.setenv("QUESTION", "How many vacation days do I get?")
    result = docker_compose(folder, "up", "--abort-on-container-exit", "--exit-code-from", "app")
    output = result.stdout + result.stderr
    assert "rag: question: How many vacation days do I get?" in output, output
    source, _ = _source_and_answer(output, packaged_smollm2)
    assert source == "docs/vacation-policy.md"
