"""An engine that crashes on its first answer, behind the real runner, called with the real SDKs.

The engine is a stand-in for llama-server (tests/stand_in_llama_server.py): healthy until its first
request, then a real segmentation fault. Every caller learns that the engine crashed, of what, and
its last log line; after three crashes the runner stops starting it until the model is reconfigured.
"""

import os
import re
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from compose_models.runner.scheduling.scheduler import CRASH_LIMIT
from tests.conftest import LOCAL_MODEL_TAG, run_cli
from tests.integration.api.conftest import serving_runner
from tests.stand_in_llama_server import CRASH_ON_FIRST_ANSWER, FAIL_SMOKE_TEST, LOG_LINE, start_count, write_stand_in

MESSAGES = [{"role": "user", "content": "Say hello."}]


class CrashingRunner:
    def __init__(self, url: str, home: Path, starts: Path) -> None:
        self.url = url
        self.home = home
        self.starts = starts

    def openai_client(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/engines/v1", api_key="unused", max_retries=0, timeout=60)

    def anthropic_client(self) -> anthropic.Anthropic:
        return anthropic.Anthropic(base_url=f"{self.url}/anthropic", api_key="unused", max_retries=0, timeout=60)

    def ollama_chat(self) -> httpx.Response:
        body = {"model": LOCAL_MODEL_TAG, "messages": MESSAGES, "stream": False}
        return httpx.post(f"{self.url}/api/chat", json=body, timeout=60)

    def openai_error(self) -> openai.APIStatusError:
        with pytest.raises(openai.APIStatusError) as raised:
            self.openai_client().chat.completions.create(model=LOCAL_MODEL_TAG, messages=MESSAGES, max_tokens=8)
        return raised.value


@pytest.fixture
def crashing_runner(tmp_path: Path, smollm2_gguf: Path) -> Iterator[CrashingRunner]:
    binary, starts = write_stand_in(tmp_path / "stand-in", CRASH_ON_FIRST_ANSWER)
    home = tmp_path / "home"
    home.mkdir()
    environment = {"LLAMA_SERVER_PATH": str(binary), "COMPOSE_MODELS_LLAMA_BACKEND": "llama-server"}
    with serving_runner(home, smollm2_gguf, **environment) as url:
        yield CrashingRunner(url, home, starts)


def _assert_crash_report(message: str, path: str) -> None:
    assert re.search(r"engine for '(docker\.io/)?local/smollm2:135m-q4_1' crashed: killed by SIGSEGV", message), message
    assert LOG_LINE.format(path=path) in message, message  # the last lines of its log


def test_each_dialect_gets_the_crash_report_and_the_engine_is_not_restarted_in_a_loop(crashing_runner) -> None:
    runner = crashing_runner
    error = runner.openai_error()
    assert error.status_code == 502
    assert error.body["code"] == "engine_crashed" and error.body["type"] == "server_error"
    _assert_crash_report(error.body["message"], "/v1/chat/completions")

    with pytest.raises(anthropic.APIStatusError) as raised:
        runner.anthropic_client().messages.create(model=LOCAL_MODEL_TAG, messages=MESSAGES, max_tokens=8)
    assert raised.value.status_code == 502
    assert raised.value.body["type"] == "error" and raised.value.body["error"]["type"] == "api_error"
    # Messages are counted before they are answered (llama-server's /apply-template, then /tokenize): the
    # engine crashed on the first of those, and its log says so
    _assert_crash_report(raised.value.body["error"]["message"], "/apply-template")

    answer = runner.ollama_chat()
    assert answer.status_code == 502
    _assert_crash_report(answer.json()["error"], "/v1/chat/completions")
    assert start_count(runner.starts) == CRASH_LIMIT

    # Kept crashing: the next requests get the report at once, with no new start.
    for _ in range(2):
        error = runner.openai_error()
        assert error.status_code == 503
        assert f"crashed {CRASH_LIMIT} times within 60s" in error.body["message"]
        assert f"compose-models configure {LOCAL_MODEL_TAG}" in error.body["message"]
        _assert_crash_report(error.body["message"], "/v1/chat/completions")
    answer = runner.ollama_chat()
    assert answer.status_code == 503 and "not started again" in answer.json()["error"]
    assert start_count(runner.starts) == CRASH_LIMIT

    # Reconfigured: the engine is started again.
    environment = {**os.environ, "COMPOSE_MODELS_HOME": str(runner.home)}
    run_cli("configure", "--context-size", "2048", LOCAL_MODEL_TAG, env=environment)
    error = runner.openai_error()
    assert error.status_code == 502
    _assert_crash_report(error.body["message"], "/v1/chat/completions")
    assert start_count(runner.starts) == CRASH_LIMIT + 1


def test_a_build_that_fails_its_smoke_test_is_never_started(tmp_path: Path, smollm2_gguf: Path) -> None:
    """A llama-server built for another CPU (a stand-in dying with SIGILL) is refused before its first engine."""
    binary, starts = write_stand_in(tmp_path / "stand-in", FAIL_SMOKE_TEST)
    home = tmp_path / "home"
    home.mkdir()
    environment = {"LLAMA_SERVER_PATH": str(binary), "COMPOSE_MODELS_LLAMA_BACKEND": "llama-server"}
    with serving_runner(home, smollm2_gguf, **environment) as url:
        runner = CrashingRunner(url, home, starts)
        for _ in range(2):
            error = runner.openai_error()
            assert error.status_code == 500
            assert "failed its smoke test" in error.body["message"] and "SIGILL" in error.body["message"], error.body
        status = httpx.get(f"{url}/engines/status", timeout=30).json()
    assert start_count(starts) == 0
    assert "failed its smoke test" in (home / "runner.log").read_text()  # what `compose-models logs` shows
    assert "smoke test FAILED" in status["llama-server"] and "SIGILL" in status["llama-server"], status
