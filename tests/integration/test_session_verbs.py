"""`run` and `logs`, as a person at a terminal uses them (real runner, real model)."""

import pytest

from tests.conftest import LOCAL_MODEL_TAG, free_port, run_cli

pytestmark = pytest.mark.model


def test_run_answers_one_prompt_and_starts_the_runner(packaged_smollm2: str, isolated_home, monkeypatch) -> None:
    monkeypatch.setenv("COMPOSE_MODELS_PORT", str(free_port()))
    try:
        # `run` asks for no max_tokens, and a sampled SmolLM2 may answer until its context is full (8192
        # tokens: minutes on a loaded machine): a saved configuration bounds each answer, and the runner
        # `run` starts after `stop` restores it.
        run_cli("configure", LOCAL_MODEL_TAG, "--context-size", "1024", "--", "--n-predict", "48")
        run_cli("stop")
        answer = run_cli("run", LOCAL_MODEL_TAG, "Name one colour.")
        assert answer.stdout.strip()
        assert "running" in run_cli("status").stdout
        chat = run_cli("run", LOCAL_MODEL_TAG, input="Say hello.\n\nSay goodbye.\n/bye\nnever sent\n")
        assert len([line for line in chat.stdout.splitlines() if line.strip()]) >= 2
        engine_logs = list((isolated_home / "runner/logs").glob("engine-*.log"))
        last_engine_line = engine_logs[0].read_text().strip().splitlines()[-1]
        assert last_engine_line in run_cli("logs").stdout
        assert last_engine_line not in run_cli("logs", "--no-engines").stdout
    finally:
        run_cli("stop", check=False)


def test_run_unknown_model_is_a_clear_error(packaged_smollm2: str) -> None:
    result = run_cli("run", "localhost:1/nobody/nothing:1", "hi", check=False)
    assert result.returncode == 1
    assert "localhost:1" in result.stderr and "Traceback" not in result.stderr


def test_logs_before_any_runner_says_how_to_start_one() -> None:
    result = run_cli("logs", check=False)
    assert result.returncode == 1 and "serve --detach" in result.stderr
