"""A key's own limits on a real runner with SmolLM2, seen through the official SDKs: a key for one model,
a token budget per day, and the usage per key that outlives a restart of the runner."""

from pathlib import Path

import anthropic
import httpx
import ollama
import openai
import pytest

from tests.conftest import LOCAL_MODEL_TAG, run_cli
from tests.integration.gateway.conftest import ADMIN_KEY, write_keys_file

ONE_MODEL_KEY = "sk-one-model-0123456789"
TINY_KEY = "sk-tiny-budget-0123456789"
QWEN_KEY = "sk-qwen-only-0123456789"
OTHER_MODEL = "ai/qwen3:latest"  # not in this store: a 403 (not a 404) shows the key is checked first


@pytest.fixture
def limited_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys_file = write_keys_file(tmp_path / "api-keys")
    with keys_file.open("a") as keys:
        keys.write(f"one-model: {ONE_MODEL_KEY} models=local/smollm2*\n")
        keys.write(f"tiny: {TINY_KEY} tokens-per-day=1\n")
        keys.write(f"qwen-only: {QWEN_KEY} models=ai/qwen3*\n")
    monkeypatch.setenv("COMPOSE_MODELS_API_KEYS_FILE", str(keys_file))


@pytest.fixture
def limited_runner(limited_keys: None, runner: str) -> str:
    """The ``runner`` fixture's runner, started with the keys above."""
    return runner


def _chat(client: openai.OpenAI, model: str) -> str:
    answer = client.chat.completions.create(
        model=model, max_tokens=2, temperature=0, messages=[{"role": "user", "content": "Hi"}]
    )
    return answer.choices[0].message.content


def test_a_key_for_one_model_is_refused_another_in_openais_and_anthropics_shape(limited_runner: str) -> None:
    client = openai.OpenAI(base_url=f"{limited_runner}/engines/v1", api_key=ONE_MODEL_KEY, max_retries=0)
    assert _chat(client, LOCAL_MODEL_TAG)
    with pytest.raises(openai.PermissionDeniedError) as refused:
        _chat(client, OTHER_MODEL)
    assert refused.value.status_code == 403 and refused.value.code == "model_not_allowed"
    assert f"may not use the model {OTHER_MODEL!r}; it may use only local/smollm2*" in refused.value.message

    claude = anthropic.Anthropic(base_url=f"{limited_runner}/anthropic", api_key=ONE_MODEL_KEY, max_retries=0)
    with pytest.raises(anthropic.PermissionDeniedError) as denied:
        claude.messages.create(model=OTHER_MODEL, max_tokens=2, messages=[{"role": "user", "content": "Hi"}])
    assert denied.value.body["error"]["type"] == "permission_error"
    assert "may use only local/smollm2*" in denied.value.body["error"]["message"]

    # Listings show a key the models it may use.
    assert [model.id for model in client.models.list()] == [LOCAL_MODEL_TAG]
    qwen_only = openai.OpenAI(base_url=f"{limited_runner}/engines/v1", api_key=QWEN_KEY, max_retries=0)
    assert list(qwen_only.models.list()) == []
    with pytest.raises(openai.NotFoundError):
        qwen_only.models.retrieve(LOCAL_MODEL_TAG)
    assert ollama.Client(host=limited_runner, headers={"Authorization": f"Bearer {QWEN_KEY}"}).list().models == []
    with pytest.raises(openai.PermissionDeniedError):
        _chat(qwen_only, LOCAL_MODEL_TAG)


def test_a_spent_budget_is_refused_in_each_apis_shape_and_outlives_a_restart(
    limited_runner: str, isolated_home: Path
) -> None:
    client = openai.OpenAI(base_url=f"{limited_runner}/engines/v1", api_key=TINY_KEY, max_retries=2)
    assert _chat(client, LOCAL_MODEL_TAG)  # admitted under its budget of 1 token, which it then overspends
    _assert_refused_everywhere(limited_runner)

    run_cli("stop")
    run_cli("serve", "--detach")
    _assert_refused_everywhere(limited_runner)
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    [tiny] = [row for row in httpx.get(f"{limited_runner}/ui/activity", headers=admin).json()["key_usage"]
              if row["key"] == "tiny"]  # fmt: skip
    assert tiny["today"]["requests"] == 1 and tiny["today"]["completion_tokens"] >= 1 and tiny["tokens_per_day"] == 1
    own = httpx.get(f"{limited_runner}/ui/activity", headers={"Authorization": f"Bearer {TINY_KEY}"}).json()
    assert [row["key"] for row in own["key_usage"]] == ["tiny"]  # another key's usage is not shown to it
    metrics = httpx.get(f"{limited_runner}/metrics", headers=admin).text
    assert 'compose_models_key_requests_today{key="tiny"} 1.0' in metrics
    assert 'compose_models_key_token_budget{key="tiny",period="day"} 1.0' in metrics
    assert TINY_KEY not in metrics


def _assert_refused_everywhere(runner: str) -> None:
    sent: list[httpx.Request] = []
    counted = httpx.Client(event_hooks={"request": [sent.append]})
    # With the SDK's default retries: a refusal that lasts until the budget resets is not retried.
    client = openai.OpenAI(base_url=f"{runner}/engines/v1", api_key=TINY_KEY, http_client=counted)
    with pytest.raises(openai.RateLimitError) as spent:
        _chat(client, LOCAL_MODEL_TAG)
    assert len(sent) == 1
    assert spent.value.code == "insufficient_quota"
    assert "tokens for this day" in spent.value.message and "of its 1 tokens" in spent.value.message
    assert "resets at " in spent.value.message and int(spent.value.response.headers["retry-after"]) <= 86400

    claude = anthropic.Anthropic(base_url=f"{runner}/anthropic", api_key=TINY_KEY)
    with pytest.raises(anthropic.RateLimitError) as limited:
        claude.messages.create(model=LOCAL_MODEL_TAG, max_tokens=2, messages=[{"role": "user", "content": "Hi"}])
    assert limited.value.body["error"]["type"] == "rate_limit_error"
    assert "of its 1 tokens for this day" in limited.value.body["error"]["message"]

    llama = ollama.Client(host=runner, headers={"Authorization": f"Bearer {TINY_KEY}"})
    with pytest.raises(ollama.ResponseError) as refused:
        llama.chat(model=LOCAL_MODEL_TAG, messages=[{"role": "user", "content": "Hi"}])
    assert refused.value.status_code == 429 and "of its 1 tokens for this day" in refused.value.error


def test_a_key_cannot_read_a_model_it_may_not_use_by_name_nor_see_it_loaded(limited_runner: str) -> None:
    # The key may not use SmolLM2: reading it is refused as a chat with it is, 403 model_not_allowed in the
    # called API's shape; so is a model that is not here, so the refusal tells nothing of what is here.
    qwen_only = ollama.Client(host=limited_runner, headers={"Authorization": f"Bearer {QWEN_KEY}"})
    for name in (LOCAL_MODEL_TAG, "local/absent:1"):
        with pytest.raises(ollama.ResponseError) as refused:
            qwen_only.show(name)
        assert refused.value.status_code == 403
        assert f"may not use the model {name!r}; it may use only ai/qwen3*" in refused.value.error
    qwen_headers = {"Authorization": f"Bearer {QWEN_KEY}"}
    described = httpx.get(f"{limited_runner}/models/{LOCAL_MODEL_TAG}", headers=qwen_headers)
    assert described.status_code == 403 and "may not use the model" in described.text
    configured = httpx.get(f"{limited_runner}/engines/_configure", params={"model": LOCAL_MODEL_TAG}, headers=qwen_headers)
    assert configured.status_code == 403 and "may not use the model" in configured.text

    # The key that may use it reads it, and sees it loaded once it has used it; the other key does not.
    one_model = ollama.Client(host=limited_runner, headers={"Authorization": f"Bearer {ONE_MODEL_KEY}"})
    assert one_model.show(LOCAL_MODEL_TAG).details.format == "gguf"
    own_headers = {"Authorization": f"Bearer {ONE_MODEL_KEY}"}
    assert httpx.get(f"{limited_runner}/models/{LOCAL_MODEL_TAG}", headers=own_headers).json()["tags"]
    one_model.generate(model=LOCAL_MODEL_TAG, prompt="Hi", options={"num_predict": 1, "temperature": 0})
    assert [model.model for model in one_model.ps().models] == [f"{LOCAL_MODEL_TAG}"]
    assert [entry["model_name"] for entry in httpx.get(f"{limited_runner}/engines/ps", headers=own_headers).json()]
    assert qwen_only.ps().models == []
    assert httpx.get(f"{limited_runner}/engines/ps", headers=qwen_headers).json() == []
