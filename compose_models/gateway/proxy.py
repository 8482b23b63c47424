"""The llm-gateway connector's app: every request forwarded to an upstream runner (this machine's or
another's), bodies streamed both ways. The gateway middleware in front applies keys, limits and logs;
the callers' keys stay here, and the upstream sees the gateway's own key, if it needs one."""

from collections.abc import AsyncIterator

import httpx
from starlette.types import Receive, Scope, Send

from compose_models.runner.http.dialects import dialect_of
from compose_models.runner.http.errors import ApiError, error_response

# Hop-by-hop headers, and the callers' credentials, which are meant for the gateway and not the upstream.
_NOT_FORWARDED = {
    "host", "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "authorization", "x-api-key", "content-length",
}


class UpstreamProxy:
    def __init__(self, upstream: str, upstream_key: str | None = None) -> None:
        self.upstream = upstream.rstrip("/")
        self.upstream_key = upstream_key
        self._http: httpx.AsyncClient | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._forward(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._http = httpx.AsyncClient(timeout=httpx.Timeout(None, connect=10.0))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._http is not None:
                    await self._http.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self._http is not None, "the server did not run the lifespan"
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in scope["headers"] if name.decode("latin-1").lower() not in _NOT_FORWARDED
        ]
        if self.upstream_key:
            headers.append(("authorization", f"Bearer {self.upstream_key}"))
        query = scope.get("query_string", b"").decode("latin-1")
        url = self.upstream + scope["path"] + (f"?{query}" if query else "")
        has_body = scope["method"] not in ("GET", "HEAD", "OPTIONS")
        request = self._http.build_request(
            scope["method"], url, headers=headers, content=_request_body(receive) if has_body else None
        )
        try:
            response = await self._http.send(request, stream=True)
        except httpx.HTTPError as error:
            message = f"the upstream runner {self.upstream} cannot be reached: {error}"
            await error_response(dialect_of(scope["path"]), ApiError(502, message))(scope, receive, send)
            return
        try:
            forwarded = [
                (name.encode("latin-1"), value.encode("latin-1"))
                for name, value in response.headers.multi_items() if name.lower() not in _NOT_FORWARDED - {"content-length"}
            ]
            await send({"type": "http.response.start", "status": response.status_code, "headers": forwarded})
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()


async def _request_body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return
        yield message.get("body", b"")
        if not message.get("more_body"):
            return
