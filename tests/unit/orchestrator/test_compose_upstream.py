"""`x-upstream` under a Compose model: the model is the named upstream's (from the runner's upstreams file),
called by the runner's name for it, and neither pulled nor configured here."""

from pathlib import Path

import pytest

from compose_models.compose import ProjectOptions
from compose_models.errors import UserError
from compose_models.orchestrator.deploy import ensure_model, load
from compose_models.orchestrator.override import service_environment
from compose_models.runner.upstreams.config import UPSTREAMS_FILE_VARIABLE

UPSTREAMS = """\
upstreams:
  - name: gpu-box
    url: http://gpu-box:12434
    kind: compose-models
    models: "*"
    prefix: gpu
  - name: vllm
    url: http://vllm:8000/v1
    models: [Qwen/Qwen2.5-7B-Instruct]
"""


def _load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: str, upstream: str):
    (tmp_path / "upstreams.yaml").write_text(UPSTREAMS)
    monkeypatch.setenv(UPSTREAMS_FILE_VARIABLE, str(tmp_path / "upstreams.yaml"))
    (tmp_path / "compose.yaml").write_text(
        f"services:\n  app: {{image: busybox:1.36, models: [llm]}}\nmodels:\n  llm:\n    model: {model}\n"
        f"    x-upstream: {upstream}\n"
    )
    return load(ProjectOptions(files=[str(tmp_path / "compose.yaml")], cwd=tmp_path, environ={}))


def test_the_model_is_the_upstreams_under_the_runners_name_for_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project, plan = _load(tmp_path, monkeypatch, "ai/smollm2", "gpu-box")
    assert (plan.models["llm"].upstream, plan.models["llm"].model) == ("gpu-box", "gpu/smollm2")
    assert service_environment(plan, "http://runner:12434/engines/v1")["app"]["LLM_MODEL"] == "gpu/smollm2"
    ensure_model(None, "llm", plan.models["llm"], project)  # no store asked: nothing is pulled
    _, plan = _load(tmp_path, monkeypatch, "Qwen/Qwen2.5-7B-Instruct", "vllm")
    assert plan.models["llm"].model == "Qwen/Qwen2.5-7B-Instruct"


@pytest.mark.parametrize(("model", "upstream", "expected"), [
    ("ai/smollm2", "gpu", "models.llm.x-upstream: unknown upstream 'gpu'; the runner's upstreams file"),
    ("ai/smollm2", "[a, b]", "models.llm.x-upstream: expected the name of one of the runner's upstreams"),
    ("ai/smollm2", "vllm", "models.llm.x-upstream: upstream 'vllm' does not serve 'ai/smollm2'"),
])  # fmt: skip
def test_a_bad_upstream_names_the_file_the_key_and_the_known_upstreams(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: str, upstream: str, expected: str
) -> None:
    with pytest.raises(UserError) as raised:
        _load(tmp_path, monkeypatch, model, upstream)
    message = str(raised.value)
    assert message.startswith(f"{tmp_path / 'compose.yaml'}: ") and expected in message, message
    assert "upstream" in expected and ("'gpu-box', 'vllm'" in message or "Qwen/Qwen2.5-7B-Instruct" in message)


def test_without_an_upstreams_file_the_error_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPOSE_MODELS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(UPSTREAMS_FILE_VARIABLE, raising=False)
    (tmp_path / "compose.yaml").write_text(
        "services:\n  app: {image: busybox:1.36, models: [llm]}\nmodels:\n  llm:\n    model: ai/smollm2\n"
        "    x-upstream: gpu-box\n"
    )
    with pytest.raises(UserError, match="models.llm.x-upstream: unknown upstream 'gpu-box'; the runner has no upstreams"):
        load(ProjectOptions(files=[str(tmp_path / "compose.yaml")], cwd=tmp_path, environ={}))
