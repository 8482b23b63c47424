"""The runner serves a real GGUF through real llama.cpp (llama-cpp-python), called with the official openai SDK."""

import json

import httpx
import openai
import pytest

from tests.conftest import LOCAL_MODEL_TAG, free_port, run_cli

pytestmark = pytest.mark.model


def _client(runner: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{runner}/engines/v1", api_key="not-needed", max_retries=0)


@pytest.fixture
def client(module_runner: str) -> openai.OpenAI:
    return _client(module_runner)


def test_chat_completion_answers(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=LOCAL_MODEL_TAG, messages=[{"role": "user", "content": "Say hello."}], max_tokens=24, temperature=0
    )
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].message.content.strip()
    assert reply.usage.completion_tokens > 0


def test_chat_completion_streams_until_done(client: openai.OpenAI, module_runner: str) -> None:
    stream = client.chat.completions.create(
        model=LOCAL_MODEL_TAG, messages=[{"role": "user", "content": "Count to five."}], max_tokens=24, stream=True
    )
    pieces = [chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices]
    assert len(pieces) > 2
    assert "".join(pieces).strip()
    # The raw stream ends with OpenAI's terminator, as Docker Model Runner's does.
    body = {"model": LOCAL_MODEL_TAG, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4, "stream": True}
    with httpx.stream("POST", f"{module_runner}/engines/v1/chat/completions", json=body, timeout=60) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"


def test_text_completion_and_v1_alias(module_runner: str) -> None:
    client = openai.OpenAI(base_url=f"{module_runner}/v1", api_key="not-needed", max_retries=0)
    reply = client.completions.create(model=LOCAL_MODEL_TAG, prompt="The capital of France is", max_tokens=8)
    assert reply.choices[0].text.strip()


def test_models_lists_the_packaged_model(client: openai.OpenAI) -> None:
    ids = [model.id for model in client.models.list()]
    assert ids == ["local/smollm2:135m-q4_1"]
    assert client.models.retrieve(LOCAL_MODEL_TAG).id == ids[0]


def test_unknown_model_is_a_404_in_openai_shape(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        client.chat.completions.create(model="ai/no-such-model", messages=[{"role": "user", "content": "Hi"}])
    error = raised.value.body
    assert "ai/no-such-model" in error["message"]
    assert error["type"] == "invalid_request_error"


def test_status_json_gives_container_and_host_urls(module_runner: str) -> None:
    status = json.loads(run_cli("status", "--json").stdout)
    port = module_runner.rsplit(":", 1)[1]
    assert status["running"] is True
    assert status["endpoint"].endswith(f":{port}/engines/v1/")
    assert status["endpointHost"] == f"{module_runner}/engines/v1/"
    assert status["backends"]["llama.cpp"].startswith("Running")


def test_configure_refuses_a_flag_off_the_allow_list(module_runner: str) -> None:
    result = run_cli("configure", LOCAL_MODEL_TAG, "--", "--log-file", "x", check=False)
    assert result.returncode == 1
    assert "--log-file" in result.stderr
    assert "Traceback" not in result.stderr


def test_configured_context_size_reaches_the_engine(runner: str) -> None:
    """On a runner of its own: it changes the model's configuration."""
    client = _client(runner)
    messages = [{"role": "user", "content": "word " * 400}]
    assert client.chat.completions.create(model=LOCAL_MODEL_TAG, messages=messages, max_tokens=2).choices
    run_cli("configure", "--context-size", "128", LOCAL_MODEL_TAG)
    # The engine restarts with 128 tokens of context (llama.cpp pads it to 256), which this prompt no longer fits.
    with pytest.raises(openai.APIStatusError):
        client.chat.completions.create(model=LOCAL_MODEL_TAG, messages=messages, max_tokens=2)


def test_a_runner_started_without_the_bridge_is_restarted_on_it(packaged_smollm2: str, monkeypatch) -> None:
    """A runner that came up before the Docker engine (loopback only) is replaced while idle."""
    from compose_models.docker_host import detect_docker_host
    from tests.conftest import require

    gateways = detect_docker_host().local_bridge_gateways()
    require(bool(gateways), "a Docker bridge (docker0) on this machine", linux_only=True)
    gateway = gateways[0]
    monkeypatch.setenv("COMPOSE_MODELS_PORT", str(free_port()))
    try:
        run_cli("serve", "--detach", "--host", "127.0.0.1")
        # Containers cannot reach it yet: the reach probe says so.
        assert "reaches the runner" in run_cli("status", "--json", check=False).stderr
        run_cli("configure", LOCAL_MODEL_TAG)  # ensure_running: restarts it on loopback and the bridge
        status = json.loads(run_cli("status", "--json").stdout)
        port = status["endpointHost"].rsplit(":", 1)[1].split("/")[0]
        assert httpx.get(f"http://{gateway}:{port}/engines/status", timeout=5).status_code == 200
    finally:
        run_cli("stop", check=False)
