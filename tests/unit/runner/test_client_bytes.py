"""When the client's own request bytes go on to the engine as they are: the OpenAI handler's reading and
translation hand on the very dict the body reader parsed when they changed nothing, and the engine call
sends the client's bytes exactly then (identity decides, not a comparison of payloads)."""

import asyncio
import copy
import json
from typing import Any

import pytest
from starlette.requests import Request

from compose_models.runner.api.openai.schema import ChatCompletionRequest, CompletionRequest
from compose_models.runner.http.body import parse_object, read_request_payload
from compose_models.runner.http.dialects import Dialect
from compose_models.runner.http.exchange import Exchange, Inbound, RequestBody, RouteKind
from compose_models.runner.inference.engine_call import _client_bytes
from compose_models.runner.inference.engine_payload import chat_payload_for_engine, completion_payload_for_engine

CHAT = "/engines/v1/chat/completions"


def _request(raw: bytes) -> Request:
    """A request as the tap and the body reader leave it: the exchange holds the bytes and their parse."""
    payload, problem = parse_object(raw)
    assert payload is not None, problem
    exchange = Exchange(Inbound("POST", CHAT, RouteKind(Dialect.OPENAI, inference=True), started=0.0))
    exchange.body_read(RequestBody(raw=raw, payload=payload, model=payload.get("model")))
    scope: dict[str, Any] = {"type": "http", "method": "POST", "path": CHAT, "headers": []}
    exchange.put_in(scope)
    return Request(scope)


def _sent_bytes(raw: bytes, model: type = ChatCompletionRequest) -> bytes | None:
    """What the engine call sends for ``raw`` as the OpenAI handler reads and translates it: the client's own
    bytes, or None (the payload serialised again)."""
    request = _request(raw)
    _, payload = asyncio.run(read_request_payload(request, model))
    adapt = chat_payload_for_engine if model is ChatCompletionRequest else completion_payload_for_engine
    return _client_bytes(request, adapt(payload))


# Spaced and ordered as no serialiser of ours would write them, so only the client's own bytes match.
AS_SENT = [
    b'{ "model" : "m", "messages" : [ {"role":"user", "content":"hi"} ], "temperature" : 0 }',
    b'{"messages":[{"content":"hi","role":"system"},{"role":"user","content":"\\u00e9t\\u00e9"}],"model":"m",'
    b'"max_tokens":5,"top_k":40,"stream":true,"stream_options":{"include_usage":true}}',
    b'{"model":"m","messages":[{"role":"assistant","content":"","tool_calls":[{"id":"a","type":"function",'
    b'"function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"a","content":"1"}],'
    b'"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":"auto"}',
]


@pytest.mark.parametrize("raw", AS_SENT)
def test_a_request_nothing_changes_goes_on_as_the_client_sent_it(raw: bytes) -> None:
    assert _sent_bytes(raw) is raw


@pytest.mark.parametrize("change", [
    {"max_tokens": 3.0},  # coerced to 3 by validation
    {"stream": "true"},  # coerced to True
    {"max_completion_tokens": 5},  # renamed for engines
    {"stream": True},  # the engine is asked for usage
    {"user": None},  # nulls dropped
    {"messages": [{"role": "developer", "content": "be brief"}, {"role": "user", "content": "hi"}]},
    {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]},
    {"messages": [{"role": "assistant", "content": None}, {"role": "user", "content": "hi"}]},
    {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}},
    {"tool_choice": "none", "tools": [{"type": "function", "function": {"name": "f"}}]},
])  # fmt: skip
def test_a_request_the_runner_changes_is_serialised_again(change: dict[str, Any]) -> None:
    raw = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}], **change}).encode()
    assert _sent_bytes(raw) is None


def test_a_text_completion_goes_on_as_sent_unless_changed() -> None:
    raw = b'{"model": "m", "prompt": "Once", "max_tokens": 2}'
    assert _sent_bytes(raw, CompletionRequest) is raw
    assert _sent_bytes(b'{"model": "m", "prompt": ["Once"]}', CompletionRequest) is None


def test_the_translation_never_changes_the_clients_dict() -> None:
    client = {
        "model": "m", "stream": True, "tool_choice": "none", "max_completion_tokens": 5, "user": None,
        "messages": [{"role": "developer", "content": [{"type": "text", "text": "a"}]}, {"role": "assistant", "content": None,
                     "tool_calls": [{"id": "a", "function": {"name": "f", "arguments": "{}"}}]}],
        "tools": [{"type": "function", "function": {"name": "f", "description": None}}],
    }  # fmt: skip
    before = copy.deepcopy(client)
    adapted = chat_payload_for_engine(client)
    assert client == before
    assert adapted["messages"][1]["tool_calls"][0]["type"] == "function" and "user" not in adapted


def test_without_an_exchange_the_payload_is_serialised() -> None:
    request = Request({"type": "http", "method": "POST", "path": CHAT, "headers": []})
    assert _client_bytes(request, {"model": "m", "messages": []}) is None
