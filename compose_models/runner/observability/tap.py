"""The tap: pure ASGI at the very front, the one place that watches a request and its answer.

It puts the request's ``Exchange`` in the scope (its ``Inbound`` part: its route's kind, its headers
decoded once), for the layers behind: the gateway, the body reader (which adds the body, the payload
and the model, once), the handlers and the engine call, which leave what they learn in its ``Outcome``. For an inference route it watches the answer as it passes
(status, first byte, the start of the body), never delaying a byte, and when the answer is done hands
the finished exchange to each of its listeners: the request records, the metrics and the gateway's log.
"""

import time
from collections.abc import Callable, Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from compose_models.log import say
from compose_models.runner.http.exchange import Exchange, Inbound, RouteKind, headers_of
from compose_models.runner.observability.token_count import TokenCount

RECORDED_BYTES = 1024 * 1024  # of each answer, for the records
Listener = Callable[[Exchange], None]
Classify = Callable[[str, str, str], RouteKind]  # method, path, raw query string


class Tap:
    def __init__(self, app: ASGIApp, classify: Classify, listeners: Iterable[Listener] = (), count_tokens: bool = False) -> None:
        """``count_tokens``: count them from the answer's bytes (in front of a remote runner); the
        runner's own engine calls report theirs in the exchange instead."""
        self.app = app
        self.classify = classify
        self.listeners = list(listeners)
        self.count_tokens = count_tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        route = self.classify(method, path, query)
        exchange = Exchange(Inbound(method, path, route, time.monotonic(), headers_of(scope), query))
        exchange.put_in(scope)
        if not (route.inference and method == "POST"):
            await self.app(scope, receive, send)
            return
        outcome = exchange.outcome
        counter = TokenCount() if self.count_tokens else None
        ended: list[bool] = []  # the answer's last body message went out
        try:
            await self.app(scope, receive, self._watching(exchange, send, counter, ended))
        except Exception as raised:
            outcome.error = f"{type(raised).__name__}: {raised}"
            raise
        finally:
            if outcome.first_byte is not None and not ended and outcome.error is None and outcome.status < 400:
                # Begun and never finished, with nothing raised: the client closed the stream. It is
                # logged as cut off (Nginx's 499), with the tokens generated up to then.
                outcome.cut_off, outcome.status = True, 499
            self._finish(exchange, counter)

    @staticmethod
    def _watching(exchange: Exchange, send: Send, counter: TokenCount | None, ended: list[bool]) -> Send:
        outcome, started = exchange.outcome, exchange.inbound.started

        async def watching_send(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                outcome.status = message["status"]
                if counter is not None:
                    counter.expect(dict(message.get("headers", [])).get(b"content-type", b"").decode("latin-1"))
            elif kind == "http.response.body":
                chunk = message.get("body", b"")
                if chunk:
                    if outcome.first_byte is None:
                        outcome.first_byte = time.monotonic() - started
                    if len(outcome.response_head) < RECORDED_BYTES:
                        outcome.response_head += chunk[: RECORDED_BYTES - len(outcome.response_head)]
                    if counter is not None:
                        counter.feed(chunk)
                if not message.get("more_body"):
                    ended.append(True)
            await send(message)

        return watching_send

    def _finish(self, exchange: Exchange, counter: TokenCount | None) -> None:
        outcome = exchange.outcome
        outcome.duration = time.monotonic() - exchange.inbound.started
        if outcome.engine_usage is not None:
            outcome.prompt_tokens, outcome.completion_tokens = outcome.engine_usage
        elif counter is not None:
            outcome.prompt_tokens, outcome.completion_tokens = counter.prompt_tokens, counter.completion_tokens
        for listener in self.listeners:
            try:
                listener(exchange)
            except Exception as error:  # the answer has gone; a listener's fault must not end the runner
                say(f"recording a request failed: {type(error).__name__}: {error}")
