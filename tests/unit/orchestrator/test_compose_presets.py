"""`x-preset` under a compose model becomes runtime flags before the model is configured."""

from pathlib import Path

import pytest

from compose_models.compose import ProjectOptions
from compose_models.errors import UserError
from compose_models.orchestrator.deploy import load
from compose_models.runner.control.presets import PRESETS

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
