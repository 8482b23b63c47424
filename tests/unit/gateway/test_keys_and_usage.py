"""Keys files, presented keys and the token counts read from answers as they pass."""

import json

import pytest

from compose_models.errors import UserError
from compose_models.gateway.identity import containers_by_address
from compose_models.gateway.keys import parse_keys, presented_key
from compose_models.runner.observability.token_count import TokenCount


def test_keys_have_names_and_are_presented_either_way() -> None:
    keys = parse_keys(["# team", "alice: sk-a", "", "bob : sk-b"], "keys")
    assert keys.name_of("sk-a") == "alice" and keys.name_of("sk-b") == "bob" and keys.name_of("sk-c") is None
    assert presented_key({"authorization": "Bearer sk-a"}) == "sk-a"
    assert presented_key({"x-api-key": "sk-b"}) == "sk-b"
    assert presented_key({"authorization": "Basic xyz"}) is None
    with pytest.raises(UserError, match="expected `name: key "):
        parse_keys(["alice sk-a"], "keys")
    with pytest.raises(UserError, match="also the key of"):
        parse_keys(["a: k", "b: k"], "keys")


def _sse(*events: dict) -> list[bytes]:
    text = "".join(f"data: {json.dumps(event)}\n\n" for event in events) + "data: [DONE]\n\n"
    return [text[i : i + 7].encode() for i in range(0, len(text), 7)]  # split mid-line, as a network would


def test_openai_stream_without_usage_counts_completion_chunks_only() -> None:
    tap = TokenCount("text/event-stream")
    for chunk in _sse(*({"object": "chat.completion.chunk", "choices": [{"delta": {"content": "x"}}]} for _ in range(3))):
        tap.feed(chunk)
    assert (tap.prompt_tokens, tap.completion_tokens) == (None, 3)


def test_anthropic_stream_and_ollama_answer_report_their_usage() -> None:
    tap = TokenCount("text/event-stream")
    for chunk in _sse({"type": "message_start", "message": {"usage": {"input_tokens": 12, "output_tokens": 1}}},
                      {"type": "message_delta", "usage": {"output_tokens": 5}}):
        tap.feed(chunk)
    assert (tap.prompt_tokens, tap.completion_tokens) == (12, 5)
    ollama = TokenCount("application/json")
    ollama.feed(json.dumps({"done": True, "prompt_eval_count": 7, "eval_count": 4}).encode())
    assert (ollama.prompt_tokens, ollama.completion_tokens) == (7, 4)


def engine_entry(name: str, labels: dict, addresses: list[str]) -> dict:
    networks = {f"n{i}": {"IPAddress": address} for i, address in enumerate(addresses)}
    return {"Names": [f"/{name}"], "Labels": labels, "NetworkSettings": {"Networks": networks}}


def test_containers_are_found_by_every_address_they_have() -> None:
    labels = {"com.docker.compose.project": "shop", "com.docker.compose.service": "web"}
    found = containers_by_address([engine_entry("shop-web-1", labels, ["172.18.0.2", "172.19.0.3"]),
                                   engine_entry("loose", {}, ["172.17.0.5"])])
    assert found["172.19.0.3"].caller_name == "shop/web"
    assert found["172.17.0.5"].caller_name == "loose"
