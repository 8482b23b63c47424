"""The tap: pure ASGI at the very front, the one place that reads a request and watches its answer.

For an inference route it reads the body once (at most 10 MiB), parses it once and finds the model
once; everything behind it (the gateway, the handlers, the engine call) takes these from the
``Exchange`` in the scope. It watches the answer as it passes (status, first byte, the start of the
body), never delaying a byte, and when the answer is done hands the finished exchange to each of its
listeners: the request records, the metrics and the gateway's log.
"""

import time
from collections.abc import Callable, Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from compose_models.runner.http.body import parse_object, read_body
from compose_models.runner.http.errors import ApiError, error_response
from compose_models.runner.http.exchange import Exchange, RouteKind, headers_of
from compose_models.runner.observability.log import say
from compose_models.runner.observability.token_count import TokenCount

RECORDED_BYTES = 1024 * 1024  # of each answer, for the records
Listener = Callable[[Exchange], None]
Classify = Callable[[str, str], RouteKind]
Resolve = Callable[[str], tuple[Any, str] | None]  # a model name -> (the model, its label), or None


class Tap:
    def __init__(
        self, app: ASGIApp, classify: Classify, listeners: Iterable[Listener] = (),
        resolve: Resolve | None = None, count_tokens: bool = False,
    ) -> None:  # fmt: skip
        """``count_tokens``: count them from the answer's bytes (in front of a remote runner); the
        runner's own engine calls report theirs in the exchange instead."""
        self.app = app
        self.classify = classify
        self.listeners = list(listeners)
        self.resolve = resolve
        self.count_tokens = count_tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        exchange = Exchange(method, path, self.classify(method, path), time.monotonic(), headers=headers_of(scope))
        exchange.put_in(scope)
        if not (exchange.route.inference and method == "POST"):
            await self.app(scope, receive, send)
            return
        exchange.query = scope.get("query_string", b"").decode("latin-1")
        try:
            receive = await self._read_body(exchange, scope, receive)
        except ApiError as error:
            exchange.body_error = error.message
            await error_response(exchange.route.dialect, error)(scope, receive, self._watching(exchange, send, None))
            self._finish(exchange, None)
            return
        counter = TokenCount() if self.count_tokens else None
        try:
            await self.app(scope, receive, self._watching(exchange, send, counter))
        except Exception as raised:
            exchange.error = f"{type(raised).__name__}: {raised}"
            raise
        finally:
            self._finish(exchange, counter)

    async def _read_body(self, exchange: Exchange, scope: Scope, receive: Receive) -> Receive:
        """Read the whole body into the exchange; the app behind gets it again as one message."""
        exchange.body = await read_body(exchange.headers.get("content-length", ""), receive)
        exchange.payload, exchange.body_error = parse_object(exchange.body)
        if exchange.payload is not None:
            name = exchange.payload.get("model") or exchange.payload.get("name")
            if isinstance(name, str):
                exchange.model = name
                found = self.resolve(name) if self.resolve and name else None
                if found is not None:
                    exchange.resolved, exchange.model_label = found
        replayed = False

        async def replaying_receive() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": exchange.body, "more_body": False}
            return await receive()

        return replaying_receive

    @staticmethod
    def _watching(exchange: Exchange, send: Send, counter: TokenCount | None) -> Send:
        async def watching_send(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                exchange.status = message["status"]
                if counter is not None:
                    counter.expect(dict(message.get("headers", [])).get(b"content-type", b"").decode("latin-1"))
            elif kind == "http.response.body":
                chunk = message.get("body", b"")
                if chunk:
                    if exchange.first_byte is None:
                        exchange.first_byte = time.monotonic() - exchange.started
                    if len(exchange.response_head) < RECORDED_BYTES:
                        exchange.response_head += chunk[: RECORDED_BYTES - len(exchange.response_head)]
                    if counter is not None:
                        counter.feed(chunk)
            await send(message)

        return watching_send

    def _finish(self, exchange: Exchange, counter: TokenCount | None) -> None:
        exchange.duration = time.monotonic() - exchange.started
        if exchange.engine_usage is not None:
            exchange.prompt_tokens, exchange.completion_tokens = exchange.engine_usage
        elif counter is not None:
            exchange.prompt_tokens, exchange.completion_tokens = counter.prompt_tokens, counter.completion_tokens
        for listener in self.listeners:
            try:
                listener(exchange)
            except Exception as error:  # the answer has gone; a listener's fault must not end the runner
                say(f"recording a request failed: {type(error).__name__}: {error}")
