"""The OpenAI API, called with the official openai SDK, answered by the real SmolLM2 model."""

import json
import math
import time

import httpx
import openai
import pytest

from tests.conftest import LOCAL_MODEL_TAG
from tests.integration.api.conftest import CITY_PARAMETERS

pytestmark = pytest.mark.model

WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "description": "The weather in a city", "parameters": CITY_PARAMETERS},
}
HELLO = [{"role": "user", "content": "Say hello."}]


@pytest.fixture(scope="module")
def client(api_runner: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{api_runner}/engines/v1", api_key="unused", max_retries=0)


def test_chat_answers_with_usage(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model=LOCAL_MODEL_TAG, messages=HELLO, max_tokens=8, temperature=0)
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].message.content.strip()
    assert reply.usage.prompt_tokens > 0 and 0 < reply.usage.completion_tokens <= 8


def test_streamed_chat_ends_with_usage_when_asked(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=LOCAL_MODEL_TAG, messages=HELLO, max_tokens=6, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text.strip()
    last = chunks[-1]
    assert last.choices == [] and last.usage.prompt_tokens > 0 and last.usage.completion_tokens == 6
    assert all(chunk.usage is None for chunk in chunks[:-1])


def test_streamed_chat_without_usage_ends_with_done(api_runner: str) -> None:
    body = {"model": LOCAL_MODEL_TAG, "messages": HELLO, "max_tokens": 3, "stream": True}
    with httpx.stream("POST", f"{api_runner}/v1/chat/completions", json=body, timeout=60) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        frames = [line for line in response.iter_lines() if line.startswith("data:")]
    assert frames[-1] == "data: [DONE]"
    assert all('"usage"' not in frame for frame in frames)


def test_stream_is_relayed_as_it_is_generated(api_runner: str) -> None:
    """The first token reaches the client long before the last one is generated (buffering would make
    them arrive together)."""
    body = {"model": LOCAL_MODEL_TAG, "prompt": "Once upon a time", "max_tokens": 96, "stream": True,
            "logit_bias": {"2": -100}}  # SmolLM2's end-of-text token: the answer runs to max_tokens
    httpx.post(f"{api_runner}/v1/completions", json={**body, "max_tokens": 1, "stream": False}, timeout=60)
    started, first_token = time.monotonic(), None
    with httpx.stream("POST", f"{api_runner}/v1/completions", json=body, timeout=60) as response:
        for line in response.iter_lines():
            if first_token is None and '"text"' in line:
                first_token = time.monotonic()
    ended = time.monotonic()
    assert first_token is not None and first_token - started < (ended - started) / 2


def test_text_completion(client: openai.OpenAI) -> None:
    reply = client.completions.create(model=LOCAL_MODEL_TAG, prompt="The capital of France is", max_tokens=4)
    assert reply.choices[0].text.strip()


def test_seed_makes_sampling_repeatable_and_stop_ends_the_answer(client: openai.OpenAI) -> None:
    def ask() -> str:
        reply = client.completions.create(
            model=LOCAL_MODEL_TAG, prompt="Once upon a time", max_tokens=12, temperature=1.0, seed=7, stop=["."]
        )
        return reply.choices[0].text

    first = ask()
    assert first == ask()
    assert "." not in first


def test_tool_call(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=LOCAL_MODEL_TAG,
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=[WEATHER_TOOL],
        tool_choice="required",
        max_tokens=48,
        temperature=0,
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments)["city"] in ("Paris", "Berlin")


def test_streamed_tool_call_accumulates_to_one_call(client: openai.OpenAI) -> None:
    with client.chat.completions.stream(
        model=LOCAL_MODEL_TAG,
        messages=[{"role": "user", "content": "What is the weather in Berlin?"}],
        tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        max_tokens=48,
        temperature=0,
    ) as stream:
        final = stream.get_final_completion()
    [call] = final.choices[0].message.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments)["city"] in ("Paris", "Berlin")


def test_json_schema_response_format(client: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string", "enum": ["Paris", "Berlin"]}, "sunny": {"type": "boolean"}},
        "required": ["city", "sunny"],
        "additionalProperties": False,
    }
    reply = client.chat.completions.create(
        model=LOCAL_MODEL_TAG,
        messages=[{"role": "developer", "content": "Answer in JSON."}, {"role": "user", "content": "Weather in Paris?"}],
        response_format={"type": "json_schema", "json_schema": {"name": "weather", "schema": schema}},
        max_tokens=40,
    )
    answer = json.loads(reply.choices[0].message.content)
    assert answer["city"] in ("Paris", "Berlin") and isinstance(answer["sunny"], bool)


def test_models_list_and_retrieve_under_every_prefix(api_runner: str) -> None:
    for prefix in ("/engines/v1", "/v1", "/engines/llama.cpp/v1"):
        client = openai.OpenAI(base_url=f"{api_runner}{prefix}", api_key="unused", max_retries=0)
        assert [model.id for model in client.models.list()] == ["local/smollm2:135m-q4_1"]
        assert client.models.retrieve(LOCAL_MODEL_TAG).owned_by == "docker"


def test_embeddings_one_unit_vector_per_input_even_for_a_chat_model(client: openai.OpenAI) -> None:
    client.chat.completions.create(model=LOCAL_MODEL_TAG, messages=HELLO, max_tokens=1)
    reply = client.embeddings.create(model=LOCAL_MODEL_TAG, input=["a cat", "a dog sleeps"])
    assert [item.index for item in reply.data] == [0, 1]
    for item in reply.data:
        assert len(item.embedding) == 576
        assert math.isclose(math.sqrt(sum(value * value for value in item.embedding)), 1.0, rel_tol=1e-3)
    floats = client.embeddings.create(model=LOCAL_MODEL_TAG, input="a cat", encoding_format="float")
    assert floats.data[0].embedding == pytest.approx(reply.data[0].embedding, abs=1e-6)


def test_errors_in_openai_shape(client: openai.OpenAI, api_runner: str) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        client.chat.completions.create(model="ai/no-such-model", messages=HELLO)
    assert "ai/no-such-model" in raised.value.body["message"] and raised.value.body["code"] == "model_not_found"
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model=LOCAL_MODEL_TAG, messages=[])
    assert raised.value.body["param"] == "messages"
    url = f"{api_runner}/engines/v1/chat/completions"
    malformed = httpx.post(url, content=b"{not json", headers={"content-type": "application/json"})
    assert malformed.status_code == 400 and malformed.json()["error"]["type"] == "invalid_request_error"
    too_large = httpx.post(url, content=b" " * (10 * 1024 * 1024 + 1))
    assert too_large.status_code == 413 and "error" in too_large.json()
    unknown_backend = httpx.get(f"{api_runner}/engines/vllm/v1/models")
    assert unknown_backend.status_code == 404 and "vllm" in unknown_backend.json()["error"]["message"]
