"""Reads an inference request's body once, behind the gateway (so a request without a key, or over
its limit, is refused before its body is read) and in front of the handlers: at most 10 MiB, parsed
once, its model found once; everything behind takes these from the ``Exchange`` in the scope."""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from compose_models.runner.http.body import parse_object, read_body
from compose_models.runner.http.errors import ApiError, error_response
from compose_models.runner.http.exchange import Exchange, RequestBody, exchange_of

if TYPE_CHECKING:  # for the type checker only, as in exchange.py
    from compose_models.runner.scheduling.scheduler import LocalModel
    from compose_models.runner.upstreams.remote_models import RemoteModel

Resolve = Callable[[str], "tuple[LocalModel | RemoteModel, str] | None"]  # a model name -> (the model, its label), or None
Check = Callable[[Exchange], ApiError | None]  # refuses a request once its model is known (a key's models)


class BodyReader:
    def __init__(self, app: ASGIApp, resolve: Resolve | None = None) -> None:
        self.app = app
        self.resolve = resolve
        self.check: Check | None = None  # the gateway's, set where the two are composed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        exchange = exchange_of(scope) if scope["type"] == "http" else None
        if exchange is None or not (exchange.inbound.route.inference and exchange.inbound.method == "POST"):
            await self.app(scope, receive, send)
            return
        dialect = exchange.inbound.route.dialect
        try:
            raw = await read_body(exchange.inbound.headers.get("content-length", ""), receive)
        except ApiError as error:
            exchange.body_read(RequestBody(error=error.message))
            await error_response(dialect, error)(scope, receive, send)
            return
        payload, problem = parse_object(raw)
        name = _model_name(payload)
        try:
            found = self.resolve(name) if self.resolve and name else None
        except ApiError as failure:  # the model could not be looked up (a corrupt store index)
            exchange.body_read(RequestBody(raw, payload, problem, name))
            exchange.outcome.error = failure.message
            await error_response(dialect, failure)(scope, receive, send)
            return
        target, label = found if found is not None else (None, None)
        exchange.body_read(RequestBody(raw, payload, problem, name, target, label))
        refusal = self.check(exchange) if self.check else None
        if refusal is not None:
            await error_response(dialect, refusal)(scope, receive, send)
            return
        await self.app(scope, _replaying(raw, receive), send)


def _model_name(payload: dict[str, Any] | None) -> str | None:
    """The model a request names: ``model``, or Ollama's ``name``."""
    name = (payload.get("model") or payload.get("name")) if payload is not None else None
    return name if isinstance(name, str) else None


def _replaying(body: bytes, receive: Receive) -> Receive:
    """The body again, as one message, for the app behind."""
    replayed = False

    async def replaying_receive() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replaying_receive
