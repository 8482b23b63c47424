"""`x-preset` under a compose model becomes runtime flags before the model is configured."""

import os
from pathlib import Path

import pytest

from compose_models.compose import ProjectOptions
from compose_models.errors import UserError
from compose_models.orchestrator.deploy import load
from compose_models.runner.configuration.presets import PRESETS
from tests.conftest import run_cli

STACK = """\
services:
  app: {{image: busybox:1.36, models: [llm]}}
models:
  llm:
    model: ai/smollm2
    x-preset: {preset}
    runtime_flags: ["--temp", "0.1"]
"""


def _load(tmp_path: Path, preset: str):
    (tmp_path / "compose.yaml").write_text(STACK.format(preset=preset))
    return load(ProjectOptions(files=[str(tmp_path / "compose.yaml")], cwd=tmp_path, environ={}))


def test_preset_flags_come_first_so_explicit_flags_win(tmp_path: Path) -> None:
    _, plan = _load(tmp_path, "code")
    assert plan.models["llm"].runtime_flags == [*PRESETS["code"], "--temp", "0.1"]


def test_unknown_preset_names_file_key_and_choices(tmp_path: Path) -> None:
    with pytest.raises(UserError) as raised:
        _load(tmp_path, "fast")
    message = str(raised.value)
    assert "compose.yaml" in message and "models.llm.x-preset" in message and "long-context" in message


def test_a_flag_value_out_of_range_names_file_and_key_and_up_fails_before_starting_anything(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(STACK.format(preset="chat").replace('"0.1"', '"nan"'))
    result = run_cli("up", "-f", str(tmp_path / "compose.yaml"), check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert (
        f"{tmp_path / 'compose.yaml'}: models.llm.runtime_flags: runtime flag '--temp' has an invalid value 'nan': "
        "expected a finite number of at least 0"
    ) in result.stderr
    assert not (Path(os.environ["COMPOSE_MODELS_HOME"]) / "runner" / "state.json").exists()  # no runner started
