"""A local engine for one request: the model a name resolves to, the engine the scheduler leases for it,
and what a failed connection to that engine means (a crash, with what killed it, or a hang)."""

import contextlib
import json
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.requests import Request

from compose_models.runner.backends.engine import Engine
from compose_models.runner.errors import ENGINE_CRASHED, ModelNotFound
from compose_models.runner.http.capped_read import cut
from compose_models.runner.http.errors import ApiError
from compose_models.runner.http.exchange import exchange_of
from compose_models.runner.inference.engine_client import EngineResponse
from compose_models.runner.inference.target import post_streamed
from compose_models.runner.scheduling.scheduler import COMPLETION, LocalModel
from compose_models.runner.scheduling.settings import (
    ENGINE_CONNECT_TIMEOUT_VARIABLE,
    ENGINE_READ_TIMEOUT_VARIABLE,
)
from compose_models.runner.services import services_of
from compose_models.runner.upstreams.remote_models import RemoteModel

_EXIT_GRACE = 1.0  # seconds for a process whose connection dropped to be seen dead


@dataclass(frozen=True)
class LocalEngine:
    """A leased local engine as a ``Target``."""

    request: Request
    engine: Engine
    reference: str  # the name the client asked for
    label: str
    answer_limit: None = None

    @property
    def base_url(self) -> str:
        return self.engine.base_url

    @property
    def auth_headers(self) -> dict[str, str]:
        return self.engine.auth_headers

    @property
    def context_size(self) -> int | None:
        return self.engine.spec.context_size

    def describe(self) -> str:
        return f"the engine for {self.reference!r}"

    async def transport_failure(self, error: httpx.TransportError) -> ApiError:
        return await engine_failure(self.request, self.engine, self.reference, error)


def requested_model(request: Request, reference: str) -> LocalModel | RemoteModel:
    """The model ``reference`` names: as the tap found it for this request, else asked of the scheduler,
    then of the upstreams."""
    exchange = exchange_of(request.scope)
    found = exchange.body if exchange is not None else None
    if found is not None and found.target is not None and found.model == reference:
        return found.target
    try:
        return services_of(request).scheduler.find(reference)
    except ModelNotFound:
        remote = services_of(request).remote_models.find(reference)
        if remote is None:
            raise
        return remote


async def acquire_engine(request: Request, reference: str, mode: str, stack: contextlib.AsyncExitStack) -> tuple[Any, dict[str, Any]]:
    """Hold the engine serving ``reference`` in ``mode`` until ``stack`` closes; the scheduler's errors propagate
    (the runner's table answers them)."""
    scheduler = services_of(request).scheduler
    model = requested_model(request, reference)
    if isinstance(model, RemoteModel):
        raise ApiError(400, f"model {reference!r} is served by upstream {model.upstream.name!r}, which loads it itself")
    return await stack.enter_async_context(scheduler.use(reference, mode, model))


async def preload(request: Request, reference: str, mode: str = COMPLETION) -> None:
    """Start the engine for ``reference`` without sending it a request."""
    async with contextlib.AsyncExitStack() as stack:
        await acquire_engine(request, reference, mode, stack)


async def send_to_engine(
    request: Request, engine: Engine, path: str, payload: dict[str, Any], as_sent: bytes | None
) -> httpx.Response | EngineResponse:
    """POST ``payload`` to one of the runner's engines: by the engine client (engine_client.py) when the
    engine is on plain HTTP, else as to an upstream."""
    clients = services_of(request).engine_clients
    if clients.pool_for(engine.base_url) is None:
        return await post_streamed(services_of(request).http, engine, path, payload, as_sent)
    body = as_sent if as_sent is not None else json.dumps(payload).encode()
    headers = {"content-type": "application/json", "accept-encoding": "identity", **engine.auth_headers}
    return await clients.post(engine.base_url, path, body, headers)


async def engine_failure(request: Request, engine: Engine, reference: str, error: httpx.TransportError) -> ApiError:
    """A failed connection to ``engine`` as an ApiError: 504 when it timed out (it is then stopped as
    hung), else 502 with its crash report if it died."""
    if isinstance(error, httpx.TimeoutException):
        timeouts = services_of(request).timeouts
        if isinstance(error, httpx.ConnectTimeout):
            what = f"did not accept a connection within {timeouts.engine_connect:g}s ({ENGINE_CONNECT_TIMEOUT_VARIABLE})"
        else:
            what = f"did not answer within {timeouts.engine_read:g}s ({ENGINE_READ_TIMEOUT_VARIABLE})"
        scheduler = services_of(request).scheduler
        await scheduler.discard(engine, f"the engine for {reference!r} {what}")
        return ApiError(504, f"engine for {reference!r} {what}; it is restarted for the next request")
    report = await engine.crashed(within=_EXIT_GRACE)
    if report is not None:
        return ApiError(502, report, code=ENGINE_CRASHED)
    return ApiError(502, f"engine for {reference!r} did not answer: {error}")


def engine_error(response: httpx.Response | EngineResponse, content: bytes) -> ApiError:
    """An engine's error answer (the start of its body in ``content``) as ours, keeping its message, param
    and code; the message cut to ``ERROR_TEXT`` characters."""
    try:
        body = json.loads(content)
    except (ValueError, RecursionError):
        body = None
    body = body if isinstance(body, dict) else {}
    error = body.get("error")
    if isinstance(error, dict):
        message, param, code = str(error.get("message", "")), error.get("param"), error.get("code")
    else:
        text = content.decode("utf-8", errors="replace")
        message, param, code = str(error or body.get("detail", "") or text), None, None
    message = cut(message)
    param = cut(param, 200) if isinstance(param, str) else None
    code = cut(code, 200) if isinstance(code, str) else None
    status = response.status_code
    if status >= 500 and "validation error" in message:
        status = 400  # llama-cpp-python's server answers 500 when its request model rejects the body
    return ApiError(status, message.strip() or f"engine answered {status}", param=param, code=code)
