"""Reads an inference request's body once, behind the gateway (so a request without a key, or over
its limit, is refused before its body is read) and in front of the handlers: at most 10 MiB, parsed
once, its model found once; everything behind takes these from the ``Exchange`` in the scope."""

from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from compose_models.runner.http.body import parse_object, read_body
from compose_models.runner.http.errors import ApiError, error_response
from compose_models.runner.http.exchange import Exchange, exchange_of

Resolve = Callable[[str], tuple[Any, str] | None]  # a model name -> (the model, its label), or None
Check = Callable[[Exchange], ApiError | None]  # refuses a request once its model is known (a key's models)


class BodyReader:
    def __init__(self, app: ASGIApp, resolve: Resolve | None = None) -> None:
        self.app = app
        self.resolve = resolve
        self.check: Check | None = None  # the gateway's, set where the two are composed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        exchange = exchange_of(scope) if scope["type"] == "http" else None
        if exchange is None or not (exchange.route.inference and exchange.method == "POST"):
            await self.app(scope, receive, send)
            return
        try:
            exchange.body = await read_body(exchange.headers.get("content-length", ""), receive)
        except ApiError as error:
            exchange.body_error = error.message
            await error_response(exchange.route.dialect, error)(scope, receive, send)
            return
        try:
            self._parse(exchange)
        except ApiError as error:  # the model could not be looked up (a corrupt store index)
            exchange.error = error.message
            await error_response(exchange.route.dialect, error)(scope, receive, send)
            return
        refusal = self.check(exchange) if self.check else None
        if refusal is not None:
            await error_response(exchange.route.dialect, refusal)(scope, receive, send)
            return
        await self.app(scope, _replaying(exchange.body, receive), send)

    def _parse(self, exchange: Exchange) -> None:
        exchange.payload, exchange.body_error = parse_object(exchange.body)
        if exchange.payload is None:
            return
        name = exchange.payload.get("model") or exchange.payload.get("name")
        if isinstance(name, str):
            exchange.model = name
            found = self.resolve(name) if self.resolve and name else None
            if found is not None:
                exchange.resolved, exchange.model_label = found


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
