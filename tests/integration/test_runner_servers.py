"""The runner on both of its HTTP servers: uvloop and httptools (installed with it where they have wheels)
and asyncio's own loop with h11, which ``COMPOSE_MODELS_PURE_PYTHON_HTTP=1`` asks for. Each streams the real
model's answer as the other does, and each bounds a request's head."""

import socket
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.conftest import LOCAL_MODEL_TAG, detached_runner

pytestmark = pytest.mark.model

HELLO = [{"role": "user", "content": "Say hello."}]
HEAD_REFUSAL = {"fast": b"HTTP/1.1 431 ", "pure-python": b"HTTP/1.1 400 "}  # httptools bounded here; h11 its own way


@pytest.fixture(scope="module", params=["fast", "pure-python"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, smollm2_gguf: Path) -> Iterator[tuple[str, str]]:
    pure = "1" if request.param == "pure-python" else "0"
    home = tmp_path_factory.mktemp(f"runner-{request.param}")
    with detached_runner(home, smollm2_gguf, COMPOSE_MODELS_PURE_PYTHON_HTTP=pure) as environment:
        yield request.param, environment["COMPOSE_MODELS_PORT"]


def test_a_stream_says_what_the_whole_answer_says_with_usage_when_asked(served: tuple[str, str]) -> None:
    _, port = served
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/engines/v1", api_key="unused", max_retries=0)
    whole = client.chat.completions.create(model=LOCAL_MODEL_TAG, messages=HELLO, max_tokens=12, temperature=0)
    chunks = list(client.chat.completions.create(
        model=LOCAL_MODEL_TAG, messages=HELLO, max_tokens=12, temperature=0, stream=True,
        stream_options={"include_usage": True},
    ))  # fmt: skip
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices) == whole.choices[0].message.content
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    unasked = list(client.chat.completions.create(model=LOCAL_MODEL_TAG, messages=HELLO, max_tokens=4, temperature=0, stream=True))
    assert all(chunk.usage is None for chunk in unasked)


def test_an_endless_request_head_is_refused_and_the_runner_answers_on(served: tuple[str, str]) -> None:
    kind, port = served
    with socket.create_connection(("127.0.0.1", int(port)), timeout=30) as connection:
        # 40 KiB of one header, never ended: past the 16 KiB bound, and little enough that the runner has
        # read all of it when it closes (unread bytes would make its close a reset).
        connection.sendall(b"GET /engines/v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Endless: " + b"a" * 40960)
        answer = b""
        try:
            while chunk := connection.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    assert answer.startswith(HEAD_REFUSAL[kind]), answer[:80]
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/engines/v1", api_key="unused", max_retries=0)
    assert [model.id for model in client.models.list()] == [LOCAL_MODEL_TAG]
