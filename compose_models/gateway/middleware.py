"""The gateway as pure ASGI middleware: request id, API keys, caller identity, limits, request log,
metrics and the dashboard's activity, in front of the runner or of a proxy to one. Bodies pass through
as they come (copied up to a cap, never held back), so streams stay streams."""

import json
import time
from datetime import datetime, timezone
from typing import Any

from prometheus_client import CollectorRegistry
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from compose_models.gateway import dashboard
from compose_models.gateway.activity import INSPECTED_BYTES, Activity, Exchange
from compose_models.gateway.identity import Caller, ContainerDirectory, identify
from compose_models.gateway.keys import presented_key
from compose_models.gateway.limits import CallerLimits
from compose_models.gateway.metrics import GatewayMetrics
from compose_models.gateway.request_id import request_id_for, returning_request_id, scope_with_request_id
from compose_models.gateway.request_log import RequestEntry, RequestLog
from compose_models.gateway.settings import GatewaySettings
from compose_models.gateway.usage_tap import UsageTap
from compose_models.runner.http.dialects import dialect_of
from compose_models.runner.http.errors import ApiError, error_response
from compose_models.runner.observability.tap import INFERENCE_PATHS, receive_copying_into
from compose_models.runner.reach.proof import REACH_PATH

# Open without a key: the health check every CLI verb makes, the reach probe's proof (containers probe
# before they have a key) and the dashboard's page (its data needs a key).
OPEN_PATHS = ("/engines/status", REACH_PATH, dashboard.PAGE_PATH)


class Gateway:
    def __init__(self, app: ASGIApp, settings: GatewaySettings, metrics: GatewayMetrics, serves_metrics: bool) -> None:
        self.app = app
        self.app_state = getattr(app, "state", None)
        self.settings = settings
        self.metrics = metrics
        self.serves_metrics = serves_metrics
        self.limits = CallerLimits(settings.limits)
        self.log = RequestLog(settings.request_log)
        self.activity = Activity()
        self.directory = ContainerDirectory()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        request_id = request_id_for(headers)
        scope = scope_with_request_id(scope, request_id)
        send = returning_request_id(send, request_id)
        path, method = scope["path"], scope["method"]
        key = presented_key(headers)
        service = self.settings.service_keys.caller_of(key) if key and self.settings.service_keys else None
        key_name = None
        if self.settings.keys and method != "OPTIONS" and path not in OPEN_PATHS:
            key_name = self.settings.keys.name_of(key) if key and service is None else None
            if key_name is None and service is None:
                message = (
                    "a valid API key is required (Authorization: Bearer KEY or x-api-key: KEY); "
                    "`compose-models up` gives each service one in OPENAI_API_KEY"
                )
                await error_response(dialect_of(path), ApiError(401, message))(scope, receive, send)
                return
        if method == "GET" and path == dashboard.PAGE_PATH:
            await dashboard.page()(scope, receive, send)
        elif method == "GET" and path == dashboard.ACTIVITY_PATH:
            models = dashboard.loaded_models(self.app_state)
            document = {**self.activity.document(self.limits.in_flight()), "models": models}
            await JSONResponse(document)(scope, receive, send)
        elif method == "GET" and path == "/metrics" and self.serves_metrics:
            await self.metrics.response()(scope, receive, send)
        elif method == "POST" and path.endswith(INFERENCE_PATHS):
            caller = await identify(key_name, (scope.get("client") or ("",))[0], self.directory, service)
            await self._inference(caller, request_id, scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _inference(self, caller: Caller, request_id: str, scope: Scope, receive: Receive, send: Send) -> None:
        started, route = time.monotonic(), scope["path"]  # routing may rewrite the scope's path
        refusal = self.limits.admit(caller.name)
        if refusal is not None:
            body = await _whole_body(receive)
            response = error_response(dialect_of(scope["path"]), ApiError(429, refusal.message))
            response.headers["retry-after"] = str(refusal.retry_after)
            await response(scope, receive, send)
            entry = _entry(caller, request_id, route, _model_of(body), 429, 0, 0, None, time.monotonic() - started)
            self.log.write(entry)
            self.metrics.refused(entry)
            self.activity.finished(Exchange(entry, _text(body), _text(response.body)))
            return
        request_body, response_body = bytearray(), bytearray()
        status, tap, first_byte = [500], [UsageTap("")], [None]

        copying_receive = receive_copying_into(receive, request_body)

        async def tapping_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                content_type = dict(message.get("headers", [])).get(b"content-type", b"").decode("latin-1")
                tap[0] = UsageTap(content_type)
            elif message["type"] == "http.response.body" and message.get("body"):
                chunk = message["body"]
                if first_byte[0] is None:
                    first_byte[0] = time.monotonic() - started
                tap[0].feed(chunk)
                if len(response_body) < INSPECTED_BYTES:
                    response_body.extend(chunk[: INSPECTED_BYTES - len(response_body)])
            await send(message)

        self.metrics.started(caller.name)
        try:
            await self.app(scope, copying_receive, tapping_send)
        finally:
            prompt, completion = tap[0].prompt_tokens, tap[0].completion_tokens
            self.limits.release(caller.name, (prompt or 0) + completion)
            entry = _entry(
                caller, request_id, route, _model_of(bytes(request_body)), status[0], prompt, completion,
                first_byte[0], time.monotonic() - started,
            )
            self.log.write(entry)
            self.metrics.finished(entry)
            self.activity.finished(Exchange(entry, _text(request_body), _text(response_body)))


def with_gateway(app: ASGIApp, settings: GatewaySettings) -> ASGIApp:
    """``app`` behind the gateway. The runner's own ``/metrics`` then also carries the per-caller metrics."""
    runner_metrics = getattr(getattr(app, "state", None), "metrics", None)
    registry = getattr(runner_metrics, "registry", None)
    metrics = GatewayMetrics(registry or CollectorRegistry())
    return Gateway(app, settings, metrics, serves_metrics=registry is None)


async def _whole_body(receive: Receive) -> bytes:
    body = bytearray()
    while True:
        message = await receive()
        body.extend(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body"):
            return bytes(body)


def _model_of(body: bytes) -> str | None:
    try:
        payload: Any = json.loads(body)
    except ValueError:
        return None
    model = payload.get("model") if isinstance(payload, dict) else None
    return model if isinstance(model, str) else None


def _text(body: bytes | bytearray) -> str:
    return bytes(body[:INSPECTED_BYTES]).decode("utf-8", errors="replace")


def _entry(
    caller: Caller, request_id: str, route: str, model: str | None, status: int,
    prompt: int | None, completion: int, first_byte: float | None, duration: float,
) -> RequestEntry:
    return RequestEntry(
        time=datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        request_id=request_id,
        caller=caller.name,
        caller_kind=caller.kind,
        project=caller.project,
        service=caller.service,
        container=caller.container,
        address=caller.address,
        route=route,
        model=model,
        status=status,
        prompt_tokens=prompt,
        completion_tokens=completion,
        time_to_first_token=round(first_byte, 4) if first_byte is not None else None,
        duration=round(duration, 4),
    )
