"""A hung engine gets a 504 in the called API's shape within the read timeout, and is replaced.

Stand-in for a hung engine: the real engine process, stopped with SIGSTOP. It keeps its socket,
so the runner connects and then hears nothing, which is what a deadlocked engine looks like.
"""

import contextlib
import os
import signal
import time

import httpx

from tests.conftest import LOCAL_MODEL_TAG
from tests.integration.scheduler.engine_processes import is_gone

# Long enough for a fresh engine's first answer (4 tokens) on a busy machine; every second of it is waited out
# once per API and backend, so no longer than that.
READ_TIMEOUT = 10.0
MESSAGES = [{"role": "user", "content": "Say hello."}]
CALLS = {
    "openai": ("/engines/v1/chat/completions", {"model": LOCAL_MODEL_TAG, "messages": MESSAGES, "max_tokens": 4}),
    "anthropic": ("/anthropic/v1/messages", {"model": LOCAL_MODEL_TAG, "messages": MESSAGES, "max_tokens": 4}),
    "ollama": ("/api/chat", {"model": LOCAL_MODEL_TAG, "messages": MESSAGES, "stream": False, "options": {"num_predict": 4}}),
}


def _error_message(dialect: str, body: dict) -> str:
    """The message of an error body, asserting the body has the dialect's shape."""
    if dialect == "openai":
        assert body["error"]["type"] == "server_error", body
        return body["error"]["message"]
    if dialect == "anthropic":
        assert body["type"] == "error" and body["error"]["type"] == "api_error", body
        return body["error"]["message"]
    assert set(body) == {"error"}, body
    return body["error"]


def test_a_hung_engine_gets_a_504_in_each_api_shape_and_the_next_request_a_fresh_engine(start_runner, backend: str) -> None:
    """Each API's shape on llama-server; llama-cpp-python through one API only: the 504 and its shape are the
    runner's (the same code whatever the engine), what depends on the backend is stopping and replacing its
    hung process, which one API exercises as well as three."""
    runner = start_runner(COMPOSE_MODELS_ENGINE_READ_TIMEOUT=str(READ_TIMEOUT))
    dialects = list(CALLS) if backend == "llama-server" else ["openai"]
    for dialect in dialects:
        path, body = CALLS[dialect]
        answer = httpx.post(f"{runner.url}{path}", json=body, timeout=120)
        assert answer.status_code == 200, (dialect, answer.text)
        [pid] = runner.engine_pids()
        os.kill(pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            answer = httpx.post(f"{runner.url}{path}", json=body, timeout=READ_TIMEOUT + 20)
            waited = time.monotonic() - started
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        assert answer.status_code == 504, (dialect, answer.text)
        assert f"did not answer within {READ_TIMEOUT:g}s" in _error_message(dialect, answer.json()), answer.text
        assert READ_TIMEOUT <= waited < READ_TIMEOUT + 10, waited

        answer = httpx.post(f"{runner.url}{path}", json=body, timeout=120)
        assert answer.status_code == 200, (dialect, answer.text)
        [fresh] = runner.engine_pids()
        assert fresh != pid and is_gone(pid)
