"""ASGI middleware that watches inference requests (any API) for metrics and request records.

It copies the request and response bodies as they pass (up to a cap) and never delays a byte.
"""

import json
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from compose_models.runner.http.dialects import dialect_of
from compose_models.runner.observability.records import RequestRecord, shorten_media
from compose_models.runner.scheduling.model_names import model_label
from compose_models.store.store import ModelStore

INFERENCE_PATHS = (
    "/completions", "/embeddings", "/messages", "/messages/count_tokens",
    "/api/chat", "/api/generate", "/api/embed", "/api/embeddings",
)
RECORDED_BYTES = 1024 * 1024


def receive_copying_into(receive: Receive, body: bytearray) -> Receive:
    """``receive`` that also keeps the first ``RECORDED_BYTES`` of the request body in ``body``."""

    async def copying_receive() -> Message:
        message = await receive()
        if message["type"] == "http.request" and len(body) < RECORDED_BYTES:
            body.extend(message.get("body", b""))
        return message

    return copying_receive


class InferenceObserver:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].endswith(INFERENCE_PATHS):
            await self.app(scope, receive, send)
            return
        started, request_body, response_body, status = time.monotonic(), bytearray(), bytearray(), [500]

        copying_receive = receive_copying_into(receive, request_body)

        async def copying_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            elif message["type"] == "http.response.body" and len(response_body) < RECORDED_BYTES:
                response_body.extend(message.get("body", b""))
            await send(message)

        error = None
        try:
            await self.app(scope, copying_receive, copying_send)
        except Exception as raised:
            error = f"{type(raised).__name__}: {raised}"
            raise
        finally:
            _observe(scope, bytes(request_body), bytes(response_body), status[0], time.monotonic() - started, error)


def _observe(scope: Scope, request_body: bytes, response_body: bytes, status: int, seconds: float, error: str | None) -> None:
    state = scope["app"].state
    dialect = dialect_of(scope["path"]).value
    model = _known_model(state.store, _requested_model(request_body))
    state.metrics.request(dialect, model or "", status, seconds)
    if model is None:
        return
    headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
    query = scope.get("query_string", b"").decode("latin-1")
    state.records.add(
        RequestRecord(
            id=state.records.next_id(),
            model=model,
            method=scope["method"],
            url=scope["path"] + (f"?{query}" if query else ""),
            request=shorten_media(request_body.decode("utf-8", errors="replace")),
            response=response_body.decode("utf-8", errors="replace"),
            error=error or (_error_message(response_body) if status >= 400 else None),
            timestamp=int(time.time()),
            status_code=status,
            user_agent=headers.get("user-agent", ""),
            origin=dialect,
        )
    )


def _requested_model(body: bytes) -> str | None:
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    name = payload.get("model") or payload.get("name")
    return name if isinstance(name, str) else None


def _known_model(store: ModelStore, reference: str | None) -> str | None:
    model = store.find(reference) if reference else None
    return model_label(model) if model else None


def _error_message(body: bytes) -> str:
    try:
        payload = json.loads(body)
    except ValueError:
        return body.decode("utf-8", errors="replace")[:500]
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        return str(error.get("message", error))
    return str(error or payload)[:500]
