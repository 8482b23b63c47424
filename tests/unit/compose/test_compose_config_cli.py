"""``compose-models config`` through the real CLI entry point."""

from __future__ import annotations

import json

import pytest
from ruamel.yaml import YAML

import compose_models.cli.config_verbs  # noqa: F401  (registers the verb)
from compose_models.cli import main
from tests.conftest import run_cli

COMPOSE = """\
services:
  app: {image: x, models: [my-llm]}
  idle: {image: x}
models:
  my-llm: {model: ai/smollm2, context_size: 4096}
"""

EXPECTED = {
    "name": "demo",
    "models": {"my-llm": {"model": "ai/smollm2", "context_size": 4096, "runtime_flags": []}},
    "services": {"app": {"models": {"my-llm": {"endpoint_var": "MY_LLM_URL", "model_var": "MY_LLM_MODEL"}}}},
}


def run_main(*args: str) -> int:
    try:
        main(list(args))
    except SystemExit as exit:
        return int(exit.code or 0)
    return 0


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_json_output_has_the_plan_shape(project, capsys):
    assert run_main("config", "-p", "demo", "--format", "json") == 0
    assert json.loads(capsys.readouterr().out) == EXPECTED


def test_yaml_output_in_a_child_process(project):
    result = run_cli("config", "-f", str(project / "compose.yaml"), "-p", "demo", cwd=project)
    assert YAML(typ="safe").load(result.stdout) == EXPECTED


def test_listing_options(project, capsys):
    run_main("config", "--services")
    assert capsys.readouterr().out.split() == ["app", "idle"]
    run_main("config", "--models")
    assert capsys.readouterr().out.split() == ["ai/smollm2"]
    assert run_main("config", "-q") == 0
    assert capsys.readouterr().out == ""


def test_errors_are_one_line_without_traceback(project):
    (project / "compose.yaml").write_text("services:\n  app: {image: x, models: [nope]}\n")
    result = run_cli("config", check=False, cwd=project)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert 'service "app" refers to undefined model nope' in result.stderr
