"""`x-keep-alive` under a compose model: checked before anything starts, handed to the runner as given."""

import os
from pathlib import Path

import pytest

from compose_models.compose import ProjectOptions
from compose_models.orchestrator.deploy import load
from tests.conftest import run_cli

STACK = """\
services:
  app: {{image: busybox:1.36, models: [llm]}}
models:
  llm:
    model: ai/smollm2
    x-keep-alive: {value}
"""


def _load(tmp_path: Path, value: str):
    (tmp_path / "compose.yaml").write_text(STACK.format(value=value))
    return load(ProjectOptions(files=[str(tmp_path / "compose.yaml")], cwd=tmp_path, environ={}))


@pytest.mark.parametrize(("value", "expected"), [("30m", "30m"), ("1h30m", "1h30m"), ("-1", "-1"), ("0", "0"), ("90", "90")])
def test_durations_and_the_never_and_at_once_values_are_taken(tmp_path: Path, value: str, expected: str) -> None:
    _, plan = _load(tmp_path, value)
    assert plan.models["llm"].keep_alive == expected


def test_without_it_the_runner_default_applies(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(STACK.format(value="x").replace("    x-keep-alive: x\n", ""))
    _, plan = load(ProjectOptions(files=[str(tmp_path / "compose.yaml")], cwd=tmp_path, environ={}))
    assert plan.models["llm"].keep_alive is None


@pytest.mark.parametrize("value", ["soon", "5 minutes", "[1]", "true"])
def test_a_bad_value_names_file_and_key_and_up_fails_before_starting_anything(tmp_path: Path, value: str) -> None:
    (tmp_path / "compose.yaml").write_text(STACK.format(value=value))
    result = run_cli("up", "-f", str(tmp_path / "compose.yaml"), check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"{tmp_path / 'compose.yaml'}: models.llm.x-keep-alive: expected a duration such as 30s" in result.stderr
    assert not (Path(os.environ["COMPOSE_MODELS_HOME"]) / "runner" / "state.json").exists()  # no runner started
