"""Ollama's API, called with the official ollama client, answered by the real SmolLM2 model."""

import json
import math

import httpx
import ollama
import pytest

from tests.conftest import LOCAL_MODEL_TAG
from tests.integration.api.conftest import CITY_PARAMETERS

pytestmark = pytest.mark.model

SHORT = {"num_predict": 6, "temperature": 0}
OLLAMA_NAME = "local/smollm2:135m-q4_1"


@pytest.fixture(scope="module")
def client(api_runner: str) -> ollama.Client:
    return ollama.Client(host=api_runner)


@pytest.fixture(scope="module")
def manager(api_runner: str, manage: dict[str, str]) -> ollama.Client:
    """A client with this machine's CLI key, which copying, deleting and pulling need."""
    return ollama.Client(host=api_runner, headers=manage)


def test_chat(client: ollama.Client) -> None:
    reply = client.chat(model=LOCAL_MODEL_TAG, messages=[{"role": "user", "content": "Say hello."}], options=SHORT)
    assert reply.done and reply.done_reason == "length"
    assert reply.message.role == "assistant" and reply.message.content.strip()
    assert reply.eval_count == 6 and reply.prompt_eval_count > 0 and reply.total_duration > 0


def test_chat_streamed(client: ollama.Client) -> None:
    parts = list(client.chat(model=LOCAL_MODEL_TAG, messages=[{"role": "user", "content": "Hi"}], options=SHORT, stream=True))
    assert len(parts) > 2 and all(not part.done for part in parts[:-1])
    assert parts[-1].done and parts[-1].eval_count == 6
    assert "".join(part.message.content for part in parts).strip()


def test_generate(client: ollama.Client) -> None:
    reply = client.generate(model="smollm2:135m-q4_1", prompt="The capital of France is", system="Be brief.", options=SHORT)
    assert reply.done and reply.response.strip() and reply.model == "smollm2:135m-q4_1"


def test_generate_streamed_and_raw(client: ollama.Client) -> None:
    parts = list(client.generate(model=LOCAL_MODEL_TAG, prompt="Once upon a time", raw=True, options=SHORT, stream=True))
    assert parts[-1].done and "".join(part.response for part in parts[:-1]).strip()


def test_chat_with_tools_and_a_json_schema_format(client: ollama.Client) -> None:
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": CITY_PARAMETERS}}
    # Ollama has no tool_choice; with a single tool, a JSON schema format keeps the tiny model on track.
    reply = client.chat(model=LOCAL_MODEL_TAG, messages=[{"role": "user", "content": "Weather in Paris?"}], tools=[tool],
                        format={"type": "object", "properties": {"city": {"type": "string", "enum": ["Paris"]}},
                                "required": ["city"]}, options={"num_predict": 40})
    assert json.loads(reply.message.content) == {"city": "Paris"}


def test_tags_ps_show(client: ollama.Client) -> None:
    [model] = client.list().models
    assert model.model == OLLAMA_NAME and model.size > 90_000_000
    assert model.details.family == "llama" and model.details.quantization_level == "Q4_1"
    client.generate(model=LOCAL_MODEL_TAG, prompt="Hi", options={"num_predict": 1})
    assert OLLAMA_NAME in [entry.model for entry in client.ps().models]
    shown = client.show(LOCAL_MODEL_TAG)
    assert shown.details.parameter_size == "134.52M" and "im_start" in shown.template
    assert shown.modelinfo["llama.context_length"] == "8192"


def test_embed_and_legacy_embeddings(client: ollama.Client) -> None:
    reply = client.embed(model=LOCAL_MODEL_TAG, input=["a cat", "a dog"])
    assert len(reply.embeddings) == 2 and len(reply.embeddings[0]) == 576
    assert math.isclose(math.sqrt(sum(v * v for v in reply.embeddings[0])), 1.0, rel_tol=1e-3)
    legacy = client.embeddings(model=LOCAL_MODEL_TAG, prompt="a cat")
    assert legacy.embedding == pytest.approx(reply.embeddings[0], abs=1e-6)


def test_empty_prompt_loads_and_keep_alive_zero_unloads(client: ollama.Client) -> None:
    assert client.generate(model=LOCAL_MODEL_TAG, prompt="").done_reason == "load"
    assert client.chat(model=LOCAL_MODEL_TAG, messages=[], keep_alive=0).done_reason == "unload"
    assert OLLAMA_NAME not in [entry.model for entry in client.ps().models]


def test_copy_then_delete(client: ollama.Client, manager: ollama.Client) -> None:
    manager.copy(LOCAL_MODEL_TAG, "local/copy:v1")
    assert "local/copy:v1" in [model.model for model in client.list().models]
    manager.delete("local/copy:v1")
    assert [model.model for model in client.list().models] == [OLLAMA_NAME]


def test_errors_in_ollama_shape(client: ollama.Client, manager: ollama.Client, api_runner: str) -> None:
    with pytest.raises(ollama.ResponseError) as raised:
        client.chat(model="ai/no-such-model", messages=[{"role": "user", "content": "Hi"}])
    assert raised.value.status_code == 404 and "ai/no-such-model" in raised.value.error
    with pytest.raises(ollama.ResponseError) as raised:
        manager.pull("127.0.0.1:9/nothing/here:v1")
    assert "127.0.0.1:9" in raised.value.error
    version = httpx.get(f"{api_runner}/api/version").json()
    assert version == {"version": "0.1.0"}
    bad = httpx.post(f"{api_runner}/api/chat", json={"model": LOCAL_MODEL_TAG, "options": {"num_ctx": 10**9}})
    assert bad.status_code == 400 and "num_ctx" in bad.json()["error"]
