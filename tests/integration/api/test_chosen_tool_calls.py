"""Tool calls the model chooses to make (no ``tool_choice``), on every engine, seen through the official
openai (Chat Completions and Responses), anthropic and ollama SDKs.

The model is the real SmolLM2 with a Hermes-style chat template (``<tool_call>{json}</tool_call>``) written
into a copy of its GGUF. SmolLM2-135M does not decide to call a tool on its own, so the conversation asks it
to copy a call it has copied once before; at temperature 0 it writes the call text exactly, on every engine.
"""

import json
from collections.abc import Iterator
from pathlib import Path

import anthropic
import gguf
import ollama
import openai
import pytest
from gguf.scripts.gguf_new_metadata import MetadataDetails, copy_with_new_metadata

from compose_models.runner.backends import batched, llama_cpp_python, llama_server
from tests.conftest import LOCAL_MODEL_TAG, require
from tests.integration.api.conftest import serving_runner

pytestmark = pytest.mark.model

CALL_TEXT = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
MESSAGES = [
    {"role": "user", "content": f"Copy: {CALL_TEXT}"},
    {"role": "assistant", "content": CALL_TEXT},
    {"role": "user", "content": f"Copy: {CALL_TEXT}"},
]
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
OPENAI_TOOL = {"type": "function", "function": {"name": "get_weather", "description": "A city's weather", "parameters": WEATHER}}
ANTHROPIC_TOOL = {"name": "get_weather", "description": "A city's weather", "input_schema": WEATHER}
MAX_TOKENS = 40
GREEDY = {"temperature": 0, "seed": 1}


@pytest.fixture(scope="module")
def hermes_gguf(tmp_path_factory: pytest.TempPathFactory, smollm2_gguf: Path) -> Path:
    """SmolLM2's weights with the Hermes template beside this test as their ``tokenizer.chat_template``."""
    template = (Path(__file__).parent / "hermes_template.jinja").read_text()
    path = tmp_path_factory.mktemp("hermes") / "smollm2-hermes.gguf"
    reader = gguf.GGUFReader(smollm2_gguf)
    writer = gguf.GGUFWriter(path, arch=reader.fields["general.architecture"].contents(), endianess=reader.endianess)
    chat_template = MetadataDetails(gguf.GGUFValueType.STRING, template)
    copy_with_new_metadata(reader, writer, {gguf.Keys.Tokenizer.CHAT_TEMPLATE: chat_template}, [])
    return path


EVERY_ENGINE = [batched.NAME, llama_cpp_python.NAME, llama_server.NAME]
# The dialects translate the same OpenAI deltas whatever the engine: one engine shows it.
ONE_ENGINE = [batched.NAME]


@pytest.fixture(scope="module")
def runner(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, hermes_gguf: Path) -> Iterator[str]:
    if request.param == llama_server.NAME:
        require(llama_server.find_binary() is not None, "llama-server is not built: run scripts/build-llama-server.sh")
    environment = {"COMPOSE_MODELS_LLAMA_BACKEND": request.param, "COMPOSE_MODELS_BATCHED_SLOTS": "1", "COMPOSE_MODELS_BATCHED_THREADS": "1"}
    with serving_runner(tmp_path_factory.mktemp(f"tools-{request.param}"), hermes_gguf, **environment) as url:
        yield url


@pytest.fixture
def client(runner: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{runner}/engines/v1", api_key="unused", max_retries=0, timeout=120)


@pytest.mark.parametrize("runner", EVERY_ENGINE, indirect=True)
def test_openai_sdk_gets_the_call_whole_and_as_stream_deltas(client: openai.OpenAI) -> None:
    whole = client.chat.completions.create(
        model=LOCAL_MODEL_TAG, messages=MESSAGES, tools=[OPENAI_TOOL], max_tokens=MAX_TOKENS, **GREEDY
    )
    [choice] = whole.choices
    assert choice.finish_reason == "tool_calls" and not choice.message.content
    [call] = choice.message.tool_calls
    assert call.id and call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}

    stream = client.chat.completions.create(
        model=LOCAL_MODEL_TAG, messages=MESSAGES, tools=[OPENAI_TOOL], max_tokens=MAX_TOKENS, stream=True, **GREEDY
    )
    deltas = [chunk.choices[0] for chunk in stream if chunk.choices]
    fragments = [call for delta in deltas for call in delta.delta.tool_calls or []]
    assert fragments[0].id and fragments[0].function.name == "get_weather"
    assert all(fragment.index == 0 and not fragment.id for fragment in fragments[1:])
    arguments = "".join(fragment.function.arguments or "" for fragment in fragments)
    assert json.loads(arguments) == {"city": "Paris"}
    assert not "".join(delta.delta.content or "" for delta in deltas).strip()
    assert deltas[-1].finish_reason == "tool_calls"


@pytest.mark.parametrize("runner", ONE_ENGINE, indirect=True)
def test_without_tools_the_same_text_is_content(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(model=LOCAL_MODEL_TAG, messages=MESSAGES, max_tokens=MAX_TOKENS, **GREEDY)
    [choice] = answer.choices
    assert choice.message.content.startswith(CALL_TEXT[:40]) and not choice.message.tool_calls
    assert choice.finish_reason != "tool_calls", choice.message.content


@pytest.mark.parametrize("runner", ONE_ENGINE, indirect=True)
def test_anthropic_sdk_streams_a_tool_use_block(runner: str) -> None:
    client = anthropic.Anthropic(base_url=f"{runner}/anthropic", api_key="unused", max_retries=0)
    with client.messages.stream(
        model=LOCAL_MODEL_TAG, max_tokens=MAX_TOKENS, messages=MESSAGES, tools=[ANTHROPIC_TOOL],
        extra_body={"temperature": 0},
    ) as stream:
        events = list(stream)
        message = stream.get_final_message()
    starts = [event.content_block for event in events if event.type == "content_block_start"]
    assert [(block.type, block.name) for block in starts if block.type == "tool_use"] == [("tool_use", "get_weather")]
    partial = [event.delta.partial_json for event in events if event.type == "content_block_delta"
               and event.delta.type == "input_json_delta"]  # fmt: skip
    assert json.loads("".join(partial)) == {"city": "Paris"}
    assert message.stop_reason == "tool_use"
    [tool_use] = [block for block in message.content if block.type == "tool_use"]
    assert tool_use.input == {"city": "Paris"} and tool_use.id


@pytest.mark.parametrize("runner", ONE_ENGINE, indirect=True)
def test_ollama_sdk_gets_message_tool_calls(runner: str) -> None:
    reply = ollama.Client(host=runner).chat(
        model=LOCAL_MODEL_TAG, messages=MESSAGES, tools=[OPENAI_TOOL], options={**GREEDY, "num_predict": MAX_TOKENS}
    )
    [call] = reply.message.tool_calls
    assert call.function.name == "get_weather" and call.function.arguments == {"city": "Paris"}
    assert not reply.message.content.strip()


@pytest.mark.parametrize("runner", ONE_ENGINE, indirect=True)
def test_responses_stream_a_function_call_item(client: openai.OpenAI) -> None:
    tool = {"type": "function", "name": "get_weather", "description": "A city's weather", "parameters": WEATHER}
    events = list(client.responses.create(model=LOCAL_MODEL_TAG, input=MESSAGES, tools=[tool], max_output_tokens=MAX_TOKENS,
                                          temperature=0, stream=True, store=False))  # fmt: skip
    done = [event.item for event in events if event.type == "response.output_item.done"]
    assert [(item.type, item.name) for item in done] == [("function_call", "get_weather")]
    arguments = "".join(event.delta for event in events if event.type == "response.function_call_arguments.delta")
    assert json.loads(arguments) == json.loads(done[0].arguments) == {"city": "Paris"}
    assert events[-1].type == "response.completed"
