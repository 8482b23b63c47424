"""OpenAI's Responses API, called with the official openai SDK, answered by the real SmolLM2 model on
each engine: llama-server, the batched engine and llama-cpp-python, whose streams differ (usage, tool
call fragments). One runner per engine, shared by this module's tests."""

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import LOCAL_MODEL_TAG
from tests.integration.api.conftest import CITY_PARAMETERS, serving_runner

pytestmark = pytest.mark.model

WEATHER_TOOL = {"type": "function", "name": "get_weather", "description": "The weather in a city",
                "parameters": CITY_PARAMETERS}  # fmt: skip
STREAM_EVENTS = ["response.created", "response.in_progress", "response.output_item.added",
                 "response.content_part.added"]  # fmt: skip
TEXT_DONE_EVENTS = ["response.output_text.done", "response.content_part.done", "response.output_item.done"]


@pytest.fixture(scope="module", params=["llama-server", "batched", "llama-cpp-python"])
def runner_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, smollm2_gguf: Path) -> Iterator[str]:
    home = tmp_path_factory.mktemp(f"responses-{request.param}")
    environment = {"COMPOSE_MODELS_LLAMA_BACKEND": request.param, "COMPOSE_MODELS_BATCHED_SLOTS": "1"}
    with serving_runner(home, smollm2_gguf, **environment) as url:
        yield url


@pytest.fixture(scope="module")
def client(runner_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{runner_url}/engines/v1", api_key="unused", max_retries=0, timeout=120)


def test_plain_response_has_text_and_usage(client: openai.OpenAI) -> None:
    response = client.responses.create(model=LOCAL_MODEL_TAG, input="Say hello.", max_output_tokens=8,
                                       instructions="You are a friendly assistant.", metadata={"run": "plain"})  # fmt: skip
    assert response.id.startswith("resp_") and response.object == "response"
    assert response.status in ("completed", "incomplete") and response.output_text.strip()
    [message] = response.output
    assert message.type == "message" and message.role == "assistant"
    assert response.metadata == {"run": "plain"} and response.instructions == "You are a friendly assistant."
    usage = response.usage
    assert usage.input_tokens > 0 and 0 < usage.output_tokens <= 8
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens


def test_stream_sends_the_events_in_order_with_sequence_numbers(client: openai.OpenAI) -> None:
    # An answer that is sure to outrun 6 tokens: SmolLM2 sampling "Say hello." once answered "Hello!" and stopped.
    events = list(client.responses.create(model=LOCAL_MODEL_TAG, input="Count from one to twenty in words.",
                                          temperature=0, max_output_tokens=6, stream=True))  # fmt: skip
    kinds = [event.type for event in events]
    assert kinds[:4] == STREAM_EVENTS
    deltas = [event for event in events if event.type == "response.output_text.delta"]
    assert kinds[4 : 4 + len(deltas)] == ["response.output_text.delta"] * len(deltas) and deltas
    final = events[-1].response
    assert kinds[4 + len(deltas) :] == [*TEXT_DONE_EVENTS, f"response.{final.status}"]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    text = "".join(delta.delta for delta in deltas)
    assert text == final.output_text == events[-4].text
    assert final.status == "incomplete" and final.incomplete_details.reason == "max_output_tokens"
    assert final.usage.output_tokens == 6


def test_previous_response_continues_the_conversation_and_is_stored(client: openai.OpenAI) -> None:
    first = client.responses.create(model=LOCAL_MODEL_TAG, input="My name is Zorblax. Say hi.", max_output_tokens=8)
    second = client.responses.create(model=LOCAL_MODEL_TAG, previous_response_id=first.id, max_output_tokens=8,
                                     input=[{"role": "user", "content": [{"type": "input_text", "text": "Again."}]}])  # fmt: skip
    assert second.previous_response_id == first.id
    # The second request's conversation holds the first turn: its question and its answer.
    items = list(client.responses.input_items.list(second.id, order="asc"))
    assert [(item.type, item.role) for item in items] == [("message", "user"), ("message", "assistant"), ("message", "user")]
    assert items[0].content[0].text == "My name is Zorblax. Say hi."
    assert items[1].content[0].text == first.output_text and items[1].id == first.output[0].id
    assert items[2].content[0].text == "Again."
    newest = client.responses.input_items.list(second.id, limit=1)
    assert [item.id for item in newest.data] == [items[2].id] and newest.has_more
    assert second.usage.input_tokens > first.usage.input_tokens
    assert client.responses.retrieve(second.id).output_text == second.output_text
    client.responses.delete(second.id)
    with pytest.raises(openai.NotFoundError) as missing:
        client.responses.retrieve(second.id)
    assert missing.value.body["param"] == "response_id" and second.id in missing.value.body["message"]


def test_required_tool_gives_a_function_call_whose_output_is_answered(client: openai.OpenAI) -> None:
    question = {"role": "user", "content": "What is the weather in Paris?"}
    response = client.responses.create(model=LOCAL_MODEL_TAG, input=[question], tools=[WEATHER_TOOL],
                                       tool_choice="required", max_output_tokens=32, temperature=0, store=False)  # fmt: skip
    [call] = response.output
    assert call.type == "function_call" and call.name == "get_weather" and call.call_id
    assert json.loads(call.arguments)["city"] in ("Paris", "Berlin")
    result = {"type": "function_call_output", "call_id": call.call_id, "output": "Sunny, 24 C"}
    answer = client.responses.create(model=LOCAL_MODEL_TAG, input=[question, call.model_dump(), result],
                                     tools=[WEATHER_TOOL], max_output_tokens=8, store=False)  # fmt: skip
    assert answer.output[0].type == "message" and answer.output_text.strip()
    assert answer.usage.input_tokens > response.usage.input_tokens  # the call and its result reached the model


def test_streamed_tool_call_sends_argument_deltas(client: openai.OpenAI) -> None:
    events = list(client.responses.create(model=LOCAL_MODEL_TAG, input="What is the weather in Paris?",
                                          tools=[WEATHER_TOOL], tool_choice="required", max_output_tokens=32,
                                          temperature=0, stream=True, store=False))  # fmt: skip
    kinds = [event.type for event in events]
    assert kinds[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert kinds[-3:] == ["response.function_call_arguments.done", "response.output_item.done", "response.completed"]
    deltas = "".join(event.delta for event in events if event.type == "response.function_call_arguments.delta")
    assert json.loads(deltas) == json.loads(events[-3].arguments) and events[-3].name == "get_weather"
    with pytest.raises(openai.NotFoundError):  # store=False: nothing kept
        client.responses.retrieve(events[-1].response.id)


def test_json_schema_format_gives_json_matching_the_schema(client: openai.OpenAI) -> None:
    schema = {"type": "object", "properties": {"colour": {"type": "string", "enum": ["red", "blue"]}},
              "required": ["colour"], "additionalProperties": False}  # fmt: skip
    response = client.responses.create(
        model=LOCAL_MODEL_TAG, input="Pick a colour.", max_output_tokens=24, temperature=0,
        text={"format": {"type": "json_schema", "name": "colour", "schema": schema, "strict": True}},
    )
    assert json.loads(response.output_text)["colour"] in ("red", "blue")
    assert response.text.format.type == "json_schema"


def test_bad_requests_are_answered_in_openais_error_shape(runner_url: str) -> None:
    bad_item = {"model": LOCAL_MODEL_TAG, "input": [{"role": "user", "content": [{"type": "input_txt", "text": "hi"}]}]}
    answer = httpx.post(f"{runner_url}/v1/responses", json=bad_item, timeout=30)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == "input.0.content.0"
    unknown = httpx.post(f"{runner_url}/v1/responses", timeout=30, json={
        "model": LOCAL_MODEL_TAG, "input": "hi", "previous_response_id": "resp_" + "0" * 32})  # fmt: skip
    assert unknown.status_code == 404 and unknown.json()["error"]["param"] == "previous_response_id"
