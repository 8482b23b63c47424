"""The batched engine through the runner and the official openai SDK, on the real SmolLM2 model."""

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest
from llama_cpp import Llama
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from tests.child_process import in_child_process
from tests.conftest import LOCAL_MODEL_TAG
from tests.integration.batched.conftest import SLOTS

pytestmark = pytest.mark.model

QUESTIONS = [
    "Say hello.", "Count to five.", "What is the capital of France?", "Write a haiku about rain.",
    "Name three colours.", "What is 2 + 2?", "Describe a cat.", "Why is the sky blue?",
]  # fmt: skip
MAX_TOKENS = 16


def _answer(client: openai.OpenAI, question: str, **sampling: object) -> str:
    reply = client.chat.completions.create(
        model=LOCAL_MODEL_TAG, messages=[{"role": "user", "content": question}], max_tokens=MAX_TOKENS, **sampling
    )
    return reply.choices[0].message.content


@pytest.mark.parametrize("sampling", [{"temperature": 0}, {"temperature": 0.9, "seed": 7}], ids=["greedy", "seeded"])
def test_concurrent_answers_equal_one_at_a_time_answers(client: openai.OpenAI, sampling: dict[str, object]) -> None:
    one_at_a_time = [_answer(client, question, **sampling) for question in QUESTIONS]
    for concurrency in (4, 8):  # 8 is more than the slots: the rest wait in the queue
        with ThreadPoolExecutor(concurrency) as pool:
            together = list(pool.map(lambda question: _answer(client, question, **sampling), QUESTIONS[:concurrency]))
        assert together == one_at_a_time[:concurrency]


@in_child_process  # it tokenizes with llama.cpp in-process
def test_stream_ends_with_done_and_counts_usage_exactly(batched_runner: str, smollm2_gguf: Path) -> None:
    messages = [{"role": "user", "content": "Tell me about lighthouses."}]
    body = {"model": LOCAL_MODEL_TAG, "messages": messages, "max_tokens": 8, "stream": True, "temperature": 0,
            "ignore_eos": True, "stream_options": {"include_usage": True}}  # fmt: skip
    with httpx.stream("POST", f"{batched_runner}/engines/v1/chat/completions", json=body, timeout=60) as response:
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    [usage] = [chunk["usage"] for chunk in chunks if chunk.get("usage")]
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert usage["completion_tokens"] == 8
    assert usage["prompt_tokens"] == len(_chat_tokens(smollm2_gguf, messages))
    assert usage["total_tokens"] == usage["prompt_tokens"] + 8


def _chat_tokens(gguf: Path, messages: list[dict[str, str]]) -> list[int]:
    """The prompt as llama-cpp-python renders and tokenizes it, independently of the engine."""
    vocabulary = Llama(str(gguf), vocab_only=True, verbose=False)
    formatter = Jinja2ChatFormatter(
        vocabulary.metadata["tokenizer.chat_template"],
        eos_token=vocabulary._model.token_get_text(vocabulary.token_eos()),
        bos_token=vocabulary._model.token_get_text(vocabulary.token_bos()),
    )
    return vocabulary.tokenize(formatter(messages=messages).prompt.encode(), add_bos=False, special=True)


def test_a_disconnected_stream_frees_its_slot(client: openai.OpenAI, batched_runner: str) -> None:
    body = {"model": LOCAL_MODEL_TAG, "messages": [{"role": "user", "content": "Write a long story."}],
            "max_tokens": 3000, "stream": True, "ignore_eos": True}  # fmt: skip

    def start_and_leave(_: int) -> None:
        with httpx.stream("POST", f"{batched_runner}/engines/v1/chat/completions", json=body, timeout=60) as response:
            next(line for line in response.iter_lines() if '"content": "' in line and '"content": ""' not in line)

    with ThreadPoolExecutor(SLOTS) as pool:
        list(pool.map(start_and_leave, range(SLOTS)))
    started = time.monotonic()
    assert _answer(client, "Say hello.", temperature=0)
    # Had the slots stayed taken, this request would wait for 4 × 3000 tokens (minutes).
    assert time.monotonic() - started < 20


def test_a_shared_prompt_prefix_is_not_decoded_again(client: openai.OpenAI) -> None:
    system = {"role": "system", "content": "You are a patient assistant who answers in one short sentence. " * 8}

    def usage(question: str) -> openai.types.CompletionUsage:
        return client.chat.completions.create(
            model=LOCAL_MODEL_TAG, messages=[system, {"role": "user", "content": question}], max_tokens=4, temperature=0
        ).usage

    usage("What is rain?")
    again = usage("What is snow?")
    decoded = again.prompt_tokens - again.prompt_tokens_details.cached_tokens
    assert again.prompt_tokens_details.cached_tokens > 80  # the system prompt alone is longer
    assert decoded < 15


def test_json_schema_output_parses_against_its_schema(client: openai.OpenAI) -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
              "required": ["name", "age"], "additionalProperties": False}  # fmt: skip
    reply = client.chat.completions.create(
        model=LOCAL_MODEL_TAG, messages=[{"role": "user", "content": "Invent a person."}], max_tokens=60, temperature=0,
        response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": schema}},
    )  # fmt: skip
    person = json.loads(reply.choices[0].message.content)
    assert set(person) == {"name", "age"}
    assert isinstance(person["name"], str) and isinstance(person["age"], int)


def test_a_request_that_fails_on_the_decode_thread_gets_an_error_at_once_and_the_others_go_on(
    client: openai.OpenAI, batched_runner: str
) -> None:
    # An empty enum makes a grammar llama.cpp cannot parse. Its sampler is made on the decode thread,
    # where the NULL it got once crashed the engine (SIGSEGV) and with it every other request.
    empty_enum = {"type": "json_schema", "json_schema": {"name": "nothing", "schema": {"enum": []}}}
    body = {"model": LOCAL_MODEL_TAG, "messages": [{"role": "user", "content": "Write a long story."}],
            "max_tokens": 40, "temperature": 0, "stream": True, "ignore_eos": True}  # fmt: skip
    prompt = client.with_options(timeout=30)
    with httpx.stream("POST", f"{batched_runner}/engines/v1/chat/completions", json=body, timeout=60) as running:
        lines = running.iter_lines()
        next(line for line in lines if '"content": "' in line and '"content": ""' not in line)  # it is decoding
        for stream in (False, True):
            with pytest.raises(openai.BadRequestError) as refused:
                prompt.chat.completions.create(
                    model=LOCAL_MODEL_TAG, messages=[{"role": "user", "content": "Hi"}], max_tokens=4,
                    response_format=empty_enum, stream=stream,
                )  # fmt: skip
            assert refused.value.status_code == 400
            assert "cannot parse the grammar made of its schema" in refused.value.message
        rest = [line for line in lines if line]
    assert rest[-1] == "data: [DONE]"
    assert json.loads(rest[-2].removeprefix("data: "))["choices"][0]["finish_reason"] == "length"
    assert _answer(client, "Say hello.", temperature=0)  # and the engine still answers


def test_a_schema_that_makes_no_grammar_is_a_400_in_openais_shape(client: openai.OpenAI) -> None:
    unanchored = {"type": "object", "properties": {"zip": {"type": "string", "pattern": "[0-9]{5}"}}}
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model=LOCAL_MODEL_TAG, messages=[{"role": "user", "content": "A zip code?"}], max_tokens=4,
            response_format={"type": "json_schema", "json_schema": {"name": "place", "schema": unanchored}},
        )  # fmt: skip
    assert refused.value.status_code == 400
    assert "its JSON schema cannot be turned into a grammar: Pattern must start with" in refused.value.message


def test_greedy_tokens_come_with_their_logprobs_as_the_most_likely(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=LOCAL_MODEL_TAG, messages=[{"role": "user", "content": "Say hello."}], max_tokens=6, temperature=0,
        logprobs=True, top_logprobs=3,
    )  # fmt: skip
    entries = reply.choices[0].logprobs.content
    assert len(entries) == reply.usage.completion_tokens
    assert "".join(entry.token for entry in entries).startswith(reply.choices[0].message.content)
    for entry in entries:
        assert len(entry.top_logprobs) == 3
        assert entry.top_logprobs[0].token == entry.token and entry.top_logprobs[0].logprob == entry.logprob
        assert entry.logprob <= 0


def test_a_forced_tool_call_has_arguments_matching_its_parameters(client: openai.OpenAI) -> None:
    weather = {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}  # fmt: skip
    reply = client.chat.completions.create(
        model=LOCAL_MODEL_TAG, messages=[{"role": "user", "content": "What is the weather in Paris?"}], max_tokens=40,
        temperature=0, tools=[weather], tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )  # fmt: skip
    [call] = reply.choices[0].message.tool_calls
    assert call.function.name == "get_weather"
    assert isinstance(json.loads(call.function.arguments)["city"], str)


def test_embeddings_are_one_unit_vector_per_input_from_the_same_engine_kind(client: openai.OpenAI) -> None:
    reply = client.embeddings.create(model=LOCAL_MODEL_TAG, input=["a cat", "a dog sleeps", "a cat"])
    vectors = [item.embedding for item in reply.data]
    assert [len(vector) for vector in vectors] == [576] * 3
    for vector in vectors:
        assert abs(sum(value * value for value in vector) - 1.0) < 1e-3
    assert vectors[0] == pytest.approx(vectors[2], abs=1e-6) and vectors[0] != pytest.approx(vectors[1], abs=1e-3)
    assert reply.usage.prompt_tokens > 3
