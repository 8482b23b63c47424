"""Claude Code's own request (recorded from Claude Code 2.1.197: tools, betas, a mid-conversation system
message) replayed against a runner serving SmolLM2, and the context-full answers of the Anthropic and
OpenAI chat APIs. The real Claude Code runs in the separate check ``scripts/check-agents.sh claude``."""

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import LOCAL_MODEL_TAG, cli_headers, detached_runner

pytestmark = pytest.mark.model

FIXTURE = Path(__file__).parents[2] / "fixtures" / "agents" / "claude-code-2.1.197-messages.json"
CLAMPED = "x-compose-models-max-tokens-clamped"
SMALL_CONTEXT = 256
# A prompt of about 200 tokens, so that an answer fills a 256-token context quickly.
LONG_PROMPT = "Count from one to five hundred in words, separated by commas, and never stop. " + " ".join(
    f"Item {n} is fine." for n in range(1, 31)
)
GREEDY = {"temperature": 0}
Configure = Callable[[int], None]  # sets the model's context size


@pytest.fixture(scope="module")
def runner_environment(tmp_path_factory: pytest.TempPathFactory, smollm2_gguf: Path) -> Iterator[dict[str, str]]:
    with detached_runner(tmp_path_factory.mktemp("claude-code"), smollm2_gguf) as environment:
        yield environment


@pytest.fixture(scope="module")
def url(runner_environment: dict[str, str]) -> str:
    return f"http://127.0.0.1:{runner_environment['COMPOSE_MODELS_PORT']}"


@pytest.fixture(scope="module")
def configure(url: str, runner_environment: dict[str, str]) -> Configure:
    """Sets the model's context size as this machine's CLI does (management takes its key)."""
    headers = cli_headers(runner_environment["COMPOSE_MODELS_HOME"])

    def configure_context(context_size: int) -> None:
        body = {"model": LOCAL_MODEL_TAG, "context-size": context_size}
        response = httpx.post(f"{url}/engines/_configure", json=body, headers=headers)
        assert response.status_code in (200, 202, 204), response.text

    return configure_context


def _recorded() -> tuple[str, dict[str, str], dict[str, Any]]:
    recorded = json.loads(FIXTURE.read_text())
    body = {**recorded["body"], "max_tokens": 8, **GREEDY}
    return f"{recorded['path']}?{recorded['query']}", recorded["headers"], body


def _events(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for frame in response.text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.splitlines() if ": " in line)
        if "event" in lines:
            events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_head_anthropic_and_root_answer_200(url: str) -> None:
    # Claude Code sends HEAD to its base URL before its first request.
    assert httpx.head(f"{url}/anthropic").status_code == 200
    assert httpx.head(url).status_code == 200


def test_claude_codes_request_is_answered_whole_and_streamed(url: str, configure: Configure) -> None:
    configure(4096)  # Claude Code's prompt is about 3,050 tokens with SmolLM2's template
    path, headers, body = _recorded()
    assert body["messages"][-1]["role"] == "system" and "mid-conversation-system" in headers["anthropic-beta"]
    whole = httpx.post(f"{url}{path}", headers=headers, json={**body, "stream": False}, timeout=600)
    assert whole.status_code == 200, whole.text
    message = whole.json()
    assert message["content"][0]["type"] == "text" and message["usage"]["input_tokens"] > 2000
    assert message["stop_reason"] in ("end_turn", "max_tokens")

    streamed = httpx.post(f"{url}{path}", headers=headers, json={**body, "stream": True}, timeout=600)
    assert streamed.status_code == 200, streamed.text
    events = _events(streamed)
    start, delta = events[0][1], next(data for name, data in events if name == "message_delta")
    assert events[0][0] == "message_start" and events[-1][0] == "message_stop"
    assert start["message"]["usage"]["input_tokens"] == delta["usage"]["input_tokens"] == message["usage"]["input_tokens"]


def test_max_tokens_beyond_the_context_is_clamped_and_said(url: str, configure: Configure) -> None:
    configure(SMALL_CONTEXT)
    response = httpx.post(f"{url}/anthropic/v1/messages", timeout=300, json={
        "model": LOCAL_MODEL_TAG, "max_tokens": 32000, "messages": [{"role": "user", "content": "Say hello."}], **GREEDY,
    })  # fmt: skip
    assert response.status_code == 200, response.text
    usage = response.json()["usage"]
    assert int(response.headers[CLAMPED]) == SMALL_CONTEXT - usage["input_tokens"]
    small = httpx.post(f"{url}/anthropic/v1/messages", timeout=300, json={
        "model": LOCAL_MODEL_TAG, "max_tokens": 4, "messages": [{"role": "user", "content": "Say hello."}],
    })  # fmt: skip
    assert small.status_code == 200 and CLAMPED not in small.headers, small.text


def test_an_answer_filling_the_context_says_so_in_anthropics_api(url: str, configure: Configure) -> None:
    configure(SMALL_CONTEXT)
    body = {"model": LOCAL_MODEL_TAG, "max_tokens": 32000, "messages": [{"role": "user", "content": LONG_PROMPT}], **GREEDY}
    whole = httpx.post(f"{url}/anthropic/v1/messages", json=body, timeout=300)
    assert whole.status_code == 200, whole.text
    message = whole.json()
    assert message["stop_reason"] == "model_context_window_exceeded", message
    assert message["usage"]["input_tokens"] + message["usage"]["output_tokens"] >= SMALL_CONTEXT - 1

    streamed = httpx.post(f"{url}/anthropic/v1/messages", json={**body, "stream": True}, timeout=300)
    delta = next(data for name, data in _events(streamed) if name == "message_delta")
    assert delta["delta"]["stop_reason"] == "model_context_window_exceeded"


def test_an_answer_filling_the_context_says_so_in_openai_chat(url: str, configure: Configure) -> None:
    configure(SMALL_CONTEXT)
    body = {"model": LOCAL_MODEL_TAG, "messages": [{"role": "user", "content": LONG_PROMPT}], **GREEDY}
    whole = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=300)
    assert whole.status_code == 200, whole.text
    [choice] = whole.json()["choices"]
    assert choice["finish_reason"] == "length" and choice["finish_reason_detail"] == "context_window_exceeded"

    streamed = httpx.post(f"{url}/v1/chat/completions", json={**body, "stream": True}, timeout=300)
    chunks = [json.loads(line[6:]) for line in streamed.text.splitlines() if line.startswith("data: {")]
    [last] = [chunk["choices"][0] for chunk in chunks if chunk["choices"] and chunk["choices"][0].get("finish_reason")]
    assert last["finish_reason"] == "length" and last["finish_reason_detail"] == "context_window_exceeded"


def test_a_mid_conversation_system_message_reaches_the_model_as_user_text(url: str, configure: Configure) -> None:
    configure(SMALL_CONTEXT)
    body = {"model": LOCAL_MODEL_TAG, "max_tokens": 1, "messages": [
        {"role": "user", "content": "Hi."}, {"role": "system", "content": "Answer in French."},
    ]}  # fmt: skip
    headers = {"anthropic-beta": "mid-conversation-system-2026-04-07,some-future-beta-2099-01-01"}
    response = httpx.post(f"{url}/anthropic/v1/messages/count_tokens", json=body, headers=headers, timeout=120)
    without = httpx.post(f"{url}/anthropic/v1/messages/count_tokens", json={**body, "messages": body["messages"][:1]})
    assert response.status_code == 200, response.text
    assert response.json()["input_tokens"] > without.json()["input_tokens"]
