"""Pathological JSON bodies get a 400 in the called API's shape, never a plain-text 500: nested past
what json can parse, nested less but deeper than what comes after can take, and unpaired surrogates."""

import json
from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from compose_models.runner.app import create_app
from compose_models.runner.http.body import MAX_DEPTH

JSON_DEPTH_BEYOND_PYTHON = 200_000  # json.loads raises RecursionError near 1000
DEPTH_BEYOND_PYDANTIC = 300  # parses, but pydantic will not serialise past 256 levels


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _openai_error(response) -> str:
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    return error["message"]


def _anthropic_error(response) -> str:
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    return body["error"]["message"]


def _ollama_error(response) -> str:
    assert response.headers["content-type"] == "application/json"
    return response.json()["error"]


def _dmr_error(response) -> str:
    assert response.headers["content-type"].startswith("text/plain")
    return response.text.rstrip("\n")


# Each a valid request of its route but for one deep value, where a real client would put one
DIALECTS: list[tuple[str, Callable[[str], str], Callable]] = [
    ("/v1/chat/completions",
     lambda deep: f'{{"model":"ai/smollm2","messages":[{{"role":"user","content":"Hi"}}],"metadata":{deep}}}',
     _openai_error),
    ("/v1/responses",
     lambda deep: '{"model":"ai/smollm2","input":"Hi",'
                  f'"tools":[{{"type":"function","name":"f","parameters":{{"type":"object","properties":{{"a":{deep}}}}}}}]}}',
     _openai_error),
    ("/v1/messages",
     lambda deep: '{"model":"ai/smollm2","max_tokens":4,"messages":[{"role":"user","content":"Hi"}],'
                  f'"tools":[{{"name":"f","input_schema":{{"type":"object","properties":{{"a":{deep}}}}}}}]}}',
     _anthropic_error),
    ("/api/chat",
     lambda deep: f'{{"model":"ai/smollm2","messages":[{{"role":"user","content":"Hi"}}],"format":{{"a":{deep}}}}}',
     _ollama_error),
    # a registry on a closed loopback port: a pull that gets that far fails at once, without the internet
    ("/models/create", lambda deep: f'{{"from":"127.0.0.1:1/ai/smollm2","extra":{deep}}}', _dmr_error),
    ("/engines/_configure", lambda deep: f'{{"model":"ai/smollm2","context-size":2048,"extra":{deep}}}', _dmr_error),
]  # fmt: skip


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    home = tmp_path_factory.mktemp("deep")
    # as a client sees it: an unexpected exception becomes the server's 500, not a raise in the test
    with TestClient(create_app(home / "models", home / "logs"), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize("depth", [JSON_DEPTH_BEYOND_PYTHON, DEPTH_BEYOND_PYDANTIC, MAX_DEPTH + 1])
@pytest.mark.parametrize(("path", "body", "message_of"), DIALECTS, ids=[path for path, _, _ in DIALECTS])
def test_a_deeply_nested_body_is_a_400_in_the_apis_shape(client: TestClient, path: str, body, message_of, depth: int) -> None:
    response = client.post(path, content=body(_nested(depth)), headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text[:500]
    assert message_of(response) == f"request body is nested more than {MAX_DEPTH} levels deep"


def _depth(value: object) -> int:
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return 1 + max((_depth(child) for child in children), default=0) if isinstance(value, (dict, list)) else 0


@pytest.mark.parametrize(("path", "body", "message_of"), DIALECTS, ids=[path for path, _, _ in DIALECTS])
def test_the_limit_is_exact(client: TestClient, path: str, body, message_of) -> None:
    around = _depth(json.loads(body(_nested(50)))) - 50  # the levels the route's fields put around the deep value
    at_limit = client.post(path, content=body(_nested(MAX_DEPTH - around)), headers={"content-type": "application/json"})
    assert at_limit.status_code < 500 and "nested more than" not in at_limit.text, at_limit.text[:500]
    past = client.post(path, content=body(_nested(MAX_DEPTH - around + 1)), headers={"content-type": "application/json"})
    assert past.status_code == 400 and "nested more than" in message_of(past)


@pytest.mark.parametrize(("path", "body", "message_of"), DIALECTS, ids=[path for path, _, _ in DIALECTS])
def test_an_unpaired_surrogate_is_a_400_sent_raw_as_escaped(client: TestClient, path: str, body, message_of) -> None:
    """Raw, as CESU-8 bytes, it passed json.loads of bytes, which decodes with 'surrogatepass'."""
    for surrogate in (b'"\xed\xa0\x80"', b'"\\ud800"'):
        raw = body(surrogate.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")
        response = client.post(path, content=raw, headers={"content-type": "application/json"})
        assert response.status_code == 400, (surrogate, response.text[:500])
        assert message_of(response) == "request body is not valid JSON"


@pytest.mark.parametrize("role", ["system", "developer", "user", "tool"])
def test_tool_calls_on_a_message_that_cannot_make_them_is_a_400_naming_the_field(client: TestClient, role: str) -> None:
    """Found by fuzz/request_parsers.py: the engine rewrite read them as a list of calls (500)."""
    message = {"role": role, "content": "Hi", "tool_call_id": "c", "tool_calls": "x"}
    response = client.post("/v1/chat/completions", json={"model": "ai/absent", "messages": [message]})
    assert response.status_code == 400, response.text[:500]
    assert response.json()["error"]["param"] == "messages.0.tool_calls"  # the field, not the union member it was read as


@pytest.mark.parametrize(("path", "body", "message_of"), DIALECTS, ids=[path for path, _, _ in DIALECTS])
def test_a_number_too_large_for_a_float_is_a_400(client: TestClient, path: str, body, message_of) -> None:
    """json.loads reads 1e999 as infinity, which the engine request would carry as ``Infinity``."""
    response = client.post(path, content=body("-1e999"), headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text[:500]
    assert message_of(response) == "request body is not valid JSON"


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity", "1e999"])
def test_sampling_options_refuse_nan_and_infinity_given_as_strings(client: TestClient, value: str) -> None:
    """Found by fuzz/request_parsers.py: pydantic read "nan" as a float, sent on to the engine as NaN."""
    ollama = client.post("/api/chat", json={"model": "ai/absent", "messages": [{"role": "user", "content": "Hi"}],
                                            "options": {"frequency_penalty": value}})
    assert ollama.status_code == 400 and ollama.json()["error"].startswith("options.frequency_penalty:"), ollama.text
    openai = client.post("/v1/chat/completions", json={"model": "ai/absent", "temperature": value,
                                                       "messages": [{"role": "user", "content": "Hi"}]})
    assert openai.status_code == 400 and openai.json()["error"]["param"] == "temperature", openai.text
