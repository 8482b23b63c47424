"""On a machine without llama-server (a fresh Linux install), two services calling the same model are answered
together, not one after the other: the default engine there is the batched engine.

A real runner with llama-server hidden from it (no ``$LLAMA_SERVER_PATH``, a ``PATH`` and a build cache
without it, no backend pinned), SmolLM2, streamed requests timed client side: the second request's first
token must come before the first request's end, which one-at-a-time serving cannot give whatever the load."""

import json
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from compose_models.runner.backends.cache import cache_dir
from tests.conftest import LOCAL_MODEL_TAG, cli_headers
from tests.integration.api.conftest import serving_runner

pytestmark = pytest.mark.model

LONG = 200  # tokens of the first request: seconds of generation on any machine this runs on


@pytest.fixture(scope="module")
def fresh_runner(tmp_path_factory: pytest.TempPathFactory, smollm2_gguf: Path) -> Iterator[tuple[str, Path]]:
    home = tmp_path_factory.mktemp("fresh-install")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("LLAMA_SERVER_PATH", raising=False)
        patch.delenv("COMPOSE_MODELS_LLAMA_BACKEND", raising=False)
        # The build cache without llama-server, but with the smoke test setup.sh ran on llama-cpp-python.
        cache = tmp_path_factory.mktemp("cache-without-llama-server")
        (cache / "smoke-tests").symlink_to(cache_dir() / "smoke-tests", target_is_directory=True)
        environment = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "COMPOSE_MODELS_CACHE": str(cache)}
        with serving_runner(home, smollm2_gguf, **environment) as url:
            yield url, home


def _body(max_tokens: int) -> dict[str, object]:
    return {"model": LOCAL_MODEL_TAG, "messages": [{"role": "user", "content": "Write a long story about the sea."}],
            "max_tokens": max_tokens, "temperature": 0, "stream": True, "ignore_eos": True}  # fmt: skip


def _content_times(lines: Iterator[str], arrived: list[float], started: threading.Event | None = None) -> None:
    """Append the arrival time of each content chunk of the stream; set ``started`` at the first."""
    for line in lines:
        if line.startswith("data: ") and line != "data: [DONE]":
            choices = json.loads(line[6:]).get("choices") or [{}]
            if choices[0].get("delta", {}).get("content"):
                arrived.append(time.monotonic())
                if started is not None:
                    started.set()


def test_a_second_request_is_answered_while_the_first_still_generates(fresh_runner: tuple[str, Path]) -> None:
    url, home = fresh_runner
    endpoint = f"{url}/engines/v1/chat/completions"
    httpx.post(endpoint, json={**_body(1), "stream": False}, timeout=300).raise_for_status()  # the engine is loaded
    first_streaming = threading.Event()
    first_tokens: list[float] = []

    def first_request() -> None:
        with httpx.stream("POST", endpoint, json=_body(LONG), timeout=300) as response:
            _content_times(response.iter_lines(), first_tokens, first_streaming)

    thread = threading.Thread(target=first_request)
    thread.start()
    second_tokens: list[float] = []
    try:
        assert first_streaming.wait(300), "the first request never streamed"
        with httpx.stream("POST", endpoint, json=_body(8), timeout=300) as response:
            _content_times(response.iter_lines(), second_tokens)
    finally:
        thread.join(300)
    assert len(first_tokens) == LONG and second_tokens
    # Served one at a time (llama-cpp-python's server), the second request's first token would come after the
    # first request's last: its stream ends some time after that token, so the test counts tokens, not ends.
    before_second = sum(1 for arrived in first_tokens if arrived < second_tokens[0])
    assert before_second < LONG, "the second request waited for the first to generate all its tokens"
    running = httpx.get(f"{url}/engines/ps?engine", headers=cli_headers(home), timeout=30).json()
    assert [entry["engine"]["backend"] for entry in running if "engine" in entry] == ["batched"]
