"""The middleware around a stand-in app: streams pass chunk by chunk, ids are returned, refusals take the API's shape."""

import asyncio
import json
from pathlib import Path

from compose_models.gateway.keys import ApiKeys
from compose_models.gateway.limits import Limits
from compose_models.gateway.settings import GatewaySettings
from compose_models.server import with_gateway

CHUNKS = [b'data: {"object":"chat.completion.chunk","choices":[{"delta":{"content":"a"}}]}\n\n', b"data: [DONE]\n\n"]


async def streaming_app(scope, receive, send) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
    for chunk in CHUNKS:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


def call(app, path: str, headers: dict[str, str]) -> list[dict]:
    sent: list[dict] = []
    scope = {
        "type": "http", "method": "POST", "path": path, "query_string": b"", "client": ("127.0.0.1", 5000),
        "headers": [(name.encode(), value.encode()) for name, value in headers.items()],
    }

    async def receive() -> dict:
        return {"type": "http.request", "body": b'{"model": "m", "stream": true}', "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def test_streams_pass_chunk_by_chunk_with_the_request_id(tmp_path: Path) -> None:
    app = with_gateway(streaming_app, GatewaySettings(ApiKeys({}), Limits(), tmp_path / "requests.jsonl"))
    sent = call(app, "/engines/v1/chat/completions", {"x-request-id": "abc"})
    assert [message.get("body") for message in sent[1:]] == [*CHUNKS, b""]
    assert (b"x-request-id", b"abc") in sent[0]["headers"]
    entry = json.loads((tmp_path / "requests.jsonl").read_text())
    assert (entry["request_id"], entry["caller"], entry["model"], entry["completion_tokens"]) == ("abc", "local", "m", 1)


def test_refusals_take_the_shape_of_the_api_called(tmp_path: Path) -> None:
    settings = GatewaySettings(ApiKeys({"k": "alice"}), Limits(requests_per_minute=1), tmp_path / "requests.jsonl")
    app = with_gateway(streaming_app, settings)
    unauthorized = call(app, "/api/chat", {})
    assert unauthorized[0]["status"] == 401 and isinstance(json.loads(unauthorized[1]["body"])["error"], str)
    call(app, "/v1/messages", {"x-api-key": "k"})
    limited = call(app, "/v1/messages", {"x-api-key": "k"})
    assert limited[0]["status"] == 429 and (b"retry-after", b"60") in limited[0]["headers"]
    assert json.loads(limited[1]["body"])["error"]["type"] == "rate_limit_error"
