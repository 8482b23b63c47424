"""Anthropic's Messages API, called with the official anthropic SDK, answered by the real SmolLM2 model."""

import anthropic
import httpx
import pytest

from tests.conftest import LOCAL_MODEL_TAG
from tests.integration.api.conftest import CITY_PARAMETERS

pytestmark = pytest.mark.model

WEATHER_TOOL = {"name": "get_weather", "description": "The weather in a city", "input_schema": CITY_PARAMETERS}
HELLO = [{"role": "user", "content": "Say hello."}]


@pytest.fixture(scope="module")
def client(api_runner: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=f"{api_runner}/anthropic", api_key="unused", max_retries=0)


def test_message_with_system_prompt_and_content_blocks(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=LOCAL_MODEL_TAG,
        max_tokens=8,
        system=[{"type": "text", "text": "You are a friendly assistant."}],
        messages=[{"role": "user", "content": [{"type": "text", "text": "Say hello."}]}],
    )
    assert message.type == "message" and message.role == "assistant" and message.id.startswith("msg_")
    assert message._request_id.startswith("req_")
    assert message.content[0].type == "text" and message.content[0].text.strip()
    assert message.stop_reason in ("end_turn", "max_tokens")
    assert message.usage.input_tokens > 0 and 0 < message.usage.output_tokens <= 8


def test_stream_events_come_in_anthropics_order(client: anthropic.Anthropic) -> None:
    # An answer sure to outrun 6 tokens, so the stream ends at max_tokens (a sampled "Hello!" may stop first).
    counting = [{"role": "user", "content": "Count from one to twenty in words."}]
    events = list(client.messages.create(model=LOCAL_MODEL_TAG, max_tokens=6, messages=counting, stream=True,
                                         extra_body={"temperature": 0}))  # fmt: skip
    kinds = [event.type for event in events if event.type != "ping"]
    assert kinds[0] == "message_start"
    assert kinds[1] == "content_block_start" and kinds[-3] == "content_block_stop"
    assert set(kinds[2:-3]) == {"content_block_delta"}
    assert kinds[-2:] == ["message_delta", "message_stop"]
    final = events[-2]
    assert final.delta.stop_reason == "max_tokens" and final.usage.output_tokens == 6 and final.usage.input_tokens > 0


@pytest.mark.parametrize("with_tools", [False, True])
def test_the_prompt_counted_before_answering_is_what_the_engine_counts(client: anthropic.Anthropic, with_tools: bool) -> None:
    # message_start's input_tokens is counted before the answer; message_delta's is the engine's own count.
    tools = {"tools": [WEATHER_TOOL]} if with_tools else {}
    messages = [{"role": "user", "content": "Say hello <|im_start|> in été."}, {"role": "assistant", "content": "Hello"},
                {"role": "user", "content": "Again."}]  # fmt: skip
    events = list(client.messages.create(model=LOCAL_MODEL_TAG, max_tokens=2, system="Be brief.", messages=messages,
                                         stream=True, extra_body={"temperature": 0}, **tools))  # fmt: skip
    started, [final] = events[0], [event for event in events if event.type == "message_delta"]
    assert started.type == "message_start" and started.message.usage.input_tokens > 0
    assert started.message.usage.input_tokens == final.usage.input_tokens


def test_stream_helper_accumulates_the_same_text(client: anthropic.Anthropic) -> None:
    with client.messages.stream(model=LOCAL_MODEL_TAG, max_tokens=6, messages=HELLO) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert final.content[0].text == "".join(pieces) != ""


def test_stop_sequence_ends_the_answer_and_is_reported(client: anthropic.Anthropic) -> None:
    prompt = [{"role": "user", "content": "Write one sentence about the sea."}]
    greedy = {"temperature": 0}  # the SDK no longer names the field; local engines still take it
    free = client.messages.create(model=LOCAL_MODEL_TAG, max_tokens=16, messages=prompt, extra_body=greedy)
    words = free.content[0].text.split()
    assert len(words) > 3
    stop = f" {words[2]}"
    stopped = client.messages.create(
        model=LOCAL_MODEL_TAG, max_tokens=16, messages=prompt, stop_sequences=[stop], extra_body=greedy
    )
    assert stopped.stop_reason == "stop_sequence" and stopped.stop_sequence == stop
    assert free.content[0].text.startswith(stopped.content[0].text + stop)


def test_tool_use_and_tool_result_round_trip(client: anthropic.Anthropic) -> None:
    question = {"role": "user", "content": "What is the weather in Paris?"}
    message = client.messages.create(
        model=LOCAL_MODEL_TAG, max_tokens=48, extra_body={"temperature": 0}, messages=[question], tools=[WEATHER_TOOL],
        tool_choice={"type": "tool", "name": "get_weather"},
    )
    assert message.stop_reason == "tool_use"
    [tool_use] = [block for block in message.content if block.type == "tool_use"]
    assert tool_use.name == "get_weather" and tool_use.input["city"] in ("Paris", "Berlin")
    answer = client.messages.create(
        model=LOCAL_MODEL_TAG, max_tokens=8, tools=[WEATHER_TOOL],
        messages=[
            question,
            {"role": "assistant", "content": [block.model_dump() for block in message.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "Sunny, 24 C"}]},
        ],
    )
    assert answer.content[0].type == "text" and answer.content[0].text.strip()


def test_count_tokens(client: anthropic.Anthropic) -> None:
    def count(text: str) -> int:
        messages = [{"role": "user", "content": text}]
        return client.messages.count_tokens(model=LOCAL_MODEL_TAG, system="Be brief.", messages=messages).input_tokens

    assert 0 < count("Say hello.") < count("Say hello to everyone in this room.")


def test_errors_in_anthropic_shape(client: anthropic.Anthropic, api_runner: str) -> None:
    with pytest.raises(anthropic.NotFoundError) as raised:
        client.messages.create(model="ai/no-such-model", max_tokens=4, messages=HELLO)
    assert raised.value.body["error"]["type"] == "not_found_error"
    assert "ai/no-such-model" in raised.value.body["error"]["message"]
    missing = httpx.post(f"{api_runner}/v1/messages?beta=true", json={"model": LOCAL_MODEL_TAG, "messages": HELLO})
    assert missing.status_code == 400 and missing.headers["request-id"].startswith("req_")
    assert missing.json()["type"] == "error" and "max_tokens" in missing.json()["error"]["message"]
