"""``tool_choice: "required"`` (Anthropic: ``{"type": "any"}``) with several tools forces a call to one of
them, on every engine, whole and streamed, in the OpenAI Chat, Responses and Anthropic shapes.

The request is the one smolagents' ToolCallingAgent sends (tests/fixtures/agents/smolagents-toolcalling.json):
two tools, ``required``. Before, only a single tool was forced, and SmolLM2 answered in prose.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from compose_models.runner.backends import batched, llama_cpp_python, llama_server
from tests.conftest import LOCAL_MODEL_TAG, require
from tests.integration.api.conftest import serving_runner

pytestmark = pytest.mark.model

FIXTURE = Path(__file__).parents[2] / "fixtures" / "agents" / "smolagents-toolcalling.json"
REQUEST = {key: value for key, value in json.loads(FIXTURE.read_text()).items() if key != "_about"}
# SmolLM2-135M repeats itself inside a free string until max_tokens; a bound on each string (which the
# grammar enforces) keeps every answer short, and leaves the request's shape as smolagents sends it.
for _tool in REQUEST["tools"]:
    for _property in _tool["function"]["parameters"]["properties"].values():
        _property["maxLength"] = 24
SCHEMAS = {tool["function"]["name"]: tool["function"]["parameters"] for tool in REQUEST["tools"]}
LIMITS = {"max_tokens": 64, "temperature": 0}


def _assert_valid_call(name: str, arguments: Any) -> None:
    """Valid against the tool's schema: its required string fields and no others."""
    assert name in SCHEMAS, name
    values = json.loads(arguments) if isinstance(arguments, str) else arguments
    schema = SCHEMAS[name]
    assert set(schema["required"]) <= set(values) <= set(schema["properties"]), values
    assert all(isinstance(value, str) for value in values.values()), values


@pytest.fixture(scope="module", params=[llama_server.NAME, llama_cpp_python.NAME, batched.NAME])
def engine_runner(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, smollm2_gguf: Path) -> Iterator[str]:
    if request.param == llama_server.NAME:
        require(llama_server.find_binary() is not None, "llama-server is not built: run scripts/build-llama-server.sh")
    environment = {"COMPOSE_MODELS_LLAMA_BACKEND": request.param, "COMPOSE_MODELS_BATCHED_SLOTS": "1", "COMPOSE_MODELS_BATCHED_THREADS": "1"}
    with serving_runner(tmp_path_factory.mktemp(f"required-{request.param}"), smollm2_gguf, **environment) as url:
        yield url


def test_smolagents_request_gets_one_call_whole_and_streamed_on_every_engine(engine_runner: str) -> None:
    client = openai.OpenAI(base_url=f"{engine_runner}/v1", api_key="unused", max_retries=0, timeout=120)
    whole = client.chat.completions.create(**REQUEST, **LIMITS)
    [choice] = whole.choices
    assert choice.finish_reason == "tool_calls", choice.message.content
    [call] = choice.message.tool_calls  # parallel_tool_calls not asked for: exactly one
    _assert_valid_call(call.function.name, call.function.arguments)

    stream = client.chat.completions.create(**REQUEST, **LIMITS, stream=True)
    deltas = [chunk.choices[0] for chunk in stream if chunk.choices]
    calls = [call for delta in deltas for call in delta.delta.tool_calls or []]
    assert len(calls) == 1 and calls[0].id, deltas
    _assert_valid_call(calls[0].function.name, calls[0].function.arguments)
    assert not "".join(delta.delta.content or "" for delta in deltas)
    assert deltas[-1].finish_reason == "tool_calls"


def test_parallel_calls_false_gives_exactly_one_and_true_a_list_of_valid_calls(api_runner: str) -> None:
    client = openai.OpenAI(base_url=f"{api_runner}/v1", api_key="unused", max_retries=0, timeout=120)
    one = client.chat.completions.create(**REQUEST, **LIMITS, parallel_tool_calls=False)
    [call] = one.choices[0].message.tool_calls
    _assert_valid_call(call.function.name, call.function.arguments)
    several = client.chat.completions.create(**{**REQUEST, **LIMITS, "max_tokens": 200}, parallel_tool_calls=True)
    [choice] = several.choices
    assert choice.finish_reason == "tool_calls", choice.message.content
    assert choice.message.tool_calls, choice  # one or more, each a valid call
    for call in choice.message.tool_calls:
        _assert_valid_call(call.function.name, call.function.arguments)
    assert len({call.id for call in choice.message.tool_calls}) == len(choice.message.tool_calls)


def _responses_tools() -> list[dict[str, Any]]:
    return [{"type": "function", **tool["function"]} for tool in REQUEST["tools"]]


def test_responses_required_whole_and_streamed(api_runner: str) -> None:
    client = openai.OpenAI(base_url=f"{api_runner}/v1", api_key="unused", max_retries=0, timeout=120)
    question = "What is the weather in Paris?"
    arguments = {"model": LOCAL_MODEL_TAG, "input": question, "tools": _responses_tools(), "tool_choice": "required",
                 "max_output_tokens": 48, "temperature": 0, "parallel_tool_calls": False}  # fmt: skip
    whole = client.responses.create(**arguments)
    [call] = [item for item in whole.output if item.type == "function_call"]
    _assert_valid_call(call.name, call.arguments)

    events = list(client.responses.create(**arguments, stream=True))
    done = [event.item for event in events if event.type == "response.output_item.done" and event.item.type == "function_call"]
    assert len(done) == 1
    _assert_valid_call(done[0].name, done[0].arguments)


def test_anthropic_any_whole_and_streamed(api_runner: str) -> None:
    client = anthropic.Anthropic(base_url=f"{api_runner}/anthropic", api_key="unused", max_retries=0)
    tools = [{"name": tool["function"]["name"], "description": tool["function"]["description"],
              "input_schema": tool["function"]["parameters"]} for tool in REQUEST["tools"]]  # fmt: skip
    arguments = {"model": LOCAL_MODEL_TAG, "max_tokens": 48, "tools": tools, "tool_choice": {"type": "any"},
                 "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
                 "extra_body": {"temperature": 0}}  # fmt: skip
    whole = client.messages.create(**arguments)
    assert whole.stop_reason == "tool_use"
    [tool_use] = [block for block in whole.content if block.type == "tool_use"]
    _assert_valid_call(tool_use.name, tool_use.input)

    with client.messages.stream(**arguments) as stream:
        message = stream.get_final_message()
    assert message.stop_reason == "tool_use"
    [tool_use] = [block for block in message.content if block.type == "tool_use"]
    _assert_valid_call(tool_use.name, tool_use.input)
