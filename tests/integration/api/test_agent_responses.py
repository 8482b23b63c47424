"""The Responses requests agents send, as they send them: Codex CLI 0.171's first request (recorded by a
proxy in front of a runner, tests/fixtures/agents/codex-0.171-responses.json) replayed against a real
runner serving SmolLM2, with its namespace tool and its hosted ``web_search`` tool; namespaced and
custom tool calls reported as Codex reads them; hosted tools refused by name when configured; and an
answer cut short by a full context told apart from one cut by ``max_output_tokens``."""

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import LOCAL_MODEL_TAG, run_cli
from tests.integration.api.conftest import CITY_PARAMETERS, serving_runner

pytestmark = pytest.mark.model

FIXTURES = Path(__file__).parents[2] / "fixtures/agents"
CODEX_REQUEST = json.loads((FIXTURES / "codex-0.171-responses.json").read_text())
# Codex's next request after a forced call of its namespaced ``multi_agent_v1`` ``close_agent`` (a proxy
# set tool_choice): Codex ran its handler and sends the call (with its namespace) and the output back.
CODEX_AFTER_CALL = json.loads((FIXTURES / "codex-0.171-responses-namespaced-call.json").read_text())
WEATHER_NAMESPACE = {"type": "namespace", "name": "weather", "description": "Weather tools",
                     "tools": [{"type": "function", "name": "get_weather", "description": "The weather in a city",
                                "parameters": CITY_PARAMETERS}]}  # fmt: skip
QUESTION = "What is the weather in Paris?"
SMALL_CONTEXT = 128
TEXT_KEPT = 200


@pytest.fixture(scope="module")
def runner_url(tmp_path_factory: pytest.TempPathFactory, smollm2_gguf: Path) -> Iterator[str]:
    with serving_runner(tmp_path_factory.mktemp("agent-responses"), smollm2_gguf) as url:
        yield url


@pytest.fixture(scope="module")
def refusing_runner(tmp_path_factory: pytest.TempPathFactory, smollm2_gguf: Path) -> Iterator[str]:
    """A runner told to refuse hosted tools, whose model has a context small enough to fill in seconds."""
    home = tmp_path_factory.mktemp("agent-responses-refuse")
    with serving_runner(home, smollm2_gguf, COMPOSE_MODELS_HOSTED_TOOLS="refuse") as url:
        environment = {"COMPOSE_MODELS_HOME": str(home), "COMPOSE_MODELS_PORT": url.rsplit(":", 1)[1]}
        run_cli("configure", "--context-size", str(SMALL_CONTEXT), LOCAL_MODEL_TAG, env={**os.environ, **environment})
        yield url


def post(url: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{url}/engines/v1/responses", json=body, timeout=600)


def events_of(response: httpx.Response) -> list[dict[str, Any]]:
    return [json.loads(line[len("data: "):]) for line in response.text.splitlines() if line.startswith("data: ")]


def codex_request(recorded: dict[str, Any] = CODEX_REQUEST, **overrides: Any) -> dict[str, Any]:
    """A recorded request with each message text cut to its start: the whole prompt (4.5k tokens) takes
    SmolLM2 minutes on a busy 2-core machine; the tools, roles and shapes stay exactly as Codex sent them."""
    items = [{**item, "content": [{**part, "text": part["text"][:TEXT_KEPT]} for part in item["content"]]}
             if item.get("type", "message") == "message" else item for item in recorded["input"]]  # fmt: skip
    return {**recorded, "input": items, "max_output_tokens": 4, "temperature": 0, **overrides}


def test_codex_request_is_answered_whole_with_the_hosted_tool_dropped(runner_url: str) -> None:
    response = post(runner_url, codex_request(stream=False))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["status"] in ("completed", "incomplete") and answer["output"][0]["type"] == "message"
    assert "web_search" in answer["metadata"]["compose_models_warning"]
    # The tools are echoed as used: the namespace kept, the hosted tool gone.
    kinds = [(tool["type"], tool["name"]) for tool in answer["tools"]]
    assert ("namespace", "multi_agent_v1") in kinds and all(kind != "web_search" for kind, _ in kinds)
    assert answer["usage"]["input_tokens"] > 100  # Codex's messages reached the model


def test_codex_request_is_answered_as_a_stream(runner_url: str) -> None:
    response = post(runner_url, codex_request())  # the recorded request asks for a stream
    assert response.status_code == 200, response.text
    events = events_of(response)
    assert events[0]["type"] == "response.created" and events[-1]["type"] in ("response.completed", "response.incomplete")
    final = events[-1]["response"]
    assert final["output"][0]["content"][0]["text"] and "web_search" in final["metadata"]["compose_models_warning"]


def test_codex_request_carrying_its_namespaced_call_and_output_is_answered(runner_url: str) -> None:
    [call] = [item for item in CODEX_AFTER_CALL["input"] if item["type"] == "function_call"]
    assert call["namespace"] == "multi_agent_v1"  # as Codex sent it back
    response = post(runner_url, codex_request(CODEX_AFTER_CALL, stream=False))
    assert response.status_code == 200, response.text
    assert response.json()["status"] in ("completed", "incomplete") and response.json()["output"]


@pytest.mark.parametrize("stream", [False, True])
def test_a_namespaced_call_comes_back_with_its_name_and_namespace_apart(runner_url: str, stream: bool) -> None:
    response = post(runner_url, {"model": LOCAL_MODEL_TAG, "input": QUESTION, "tools": [WEATHER_NAMESPACE],
                                 "tool_choice": {"type": "function", "name": "get_weather", "namespace": "weather"},
                                 "max_output_tokens": 32, "temperature": 0, "store": False, "stream": stream})  # fmt: skip
    assert response.status_code == 200, response.text
    if stream:
        events = events_of(response)
        [added] = [event["item"] for event in events if event["type"] == "response.output_item.added"]
        assert (added["name"], added["namespace"]) == ("get_weather", "weather")
        answer = events[-1]["response"]
    else:
        answer = response.json()
    [call] = answer["output"]
    assert (call["type"], call["name"], call["namespace"]) == ("function_call", "get_weather", "weather")
    assert json.loads(call["arguments"])["city"] in ("Paris", "Berlin")
    # Sent back as Codex sends it, the call and its output are understood.
    follow_up = post(runner_url, {"model": LOCAL_MODEL_TAG, "tools": [WEATHER_NAMESPACE], "max_output_tokens": 4, "store": False,
                                  "input": [{"role": "user", "content": QUESTION}, call,
                                            {"type": "function_call_output", "call_id": call["call_id"], "output": "Sunny"}]})  # fmt: skip
    assert follow_up.status_code == 200, follow_up.text


def test_a_custom_tool_call_is_reported_with_its_text_input(runner_url: str) -> None:
    tool = {"type": "custom", "name": "shout", "description": "Repeats a text loudly"}
    body = {"model": LOCAL_MODEL_TAG, "input": "Shout the word hello.", "tools": [tool], "tool_choice": "required",
            "max_output_tokens": 24, "temperature": 0, "store": False, "stream": True}  # fmt: skip
    events = events_of(post(runner_url, body))
    [call] = events[-1]["response"]["output"]
    assert call["type"] == "custom_tool_call" and call["name"] == "shout" and isinstance(call["input"], str)
    [done] = [event for event in events if event["type"] == "response.custom_tool_call_input.done"]
    assert done["input"] == call["input"] and "{" not in call["input"][:1]  # the text, not the JSON around it


def test_an_unknown_tool_type_is_a_400_naming_it(runner_url: str) -> None:
    response = post(runner_url, {"model": LOCAL_MODEL_TAG, "input": "hi", "tools": [{"type": "teleport"}]})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "tools.0.type" and "'teleport' is not a tool type" in error["message"]


def test_a_hosted_tool_is_a_400_naming_it_when_refused(refusing_runner: str) -> None:
    response = post(refusing_runner, codex_request())
    assert response.status_code == 400
    error = response.json()["error"]
    position = next(i for i, tool in enumerate(CODEX_REQUEST["tools"]) if tool["type"] == "web_search")
    assert error["param"] == f"tools.{position}" and "'web_search' is a hosted tool" in error["message"]
    assert "OpenAI's servers" in error["message"]


@pytest.mark.parametrize("stream", [False, True])
def test_an_answer_that_fills_the_context_says_so(refusing_runner: str, stream: bool) -> None:
    body = {"model": LOCAL_MODEL_TAG, "input": "Count from one to five hundred, in words, one number a line.",
            "temperature": 0, "store": False, "stream": stream}  # fmt: skip
    response = post(refusing_runner, body)
    assert response.status_code == 200, response.text
    answer = events_of(response)[-1]["response"] if stream else response.json()
    assert answer["status"] == "incomplete", answer
    assert answer["incomplete_details"] == {"reason": "model_context_window_exceeded"}
    assert answer["usage"]["total_tokens"] >= SMALL_CONTEXT - 8
    cut = post(refusing_runner, {**body, "max_output_tokens": 5}).text
    assert '"max_output_tokens"' in cut  # a cut by the client's limit keeps its own reason
