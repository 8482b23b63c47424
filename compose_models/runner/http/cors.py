"""CORS: requests without ``Origin`` pass; browser pages on this machine pass; other origins only when
listed in ``COMPOSE_MODELS_ORIGINS`` (comma-separated, ``*`` for any). A refused origin gets 403.

Unlike Docker Model Runner, ``http://localhost:3000`` (any port) counts as local: DMR compares
``http://localhost:*`` literally, which refuses every dev server.
"""

import os
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOCAL_HOSTS = ("localhost", "127.0.0.1", "0.0.0.0", "::1")
ORIGINS_VARIABLE = "COMPOSE_MODELS_ORIGINS"


def configured_origins() -> list[str]:
    return [origin.strip().rstrip("/") for origin in os.environ.get(ORIGINS_VARIABLE, "").split(",") if origin.strip()]


def origin_allowed(origin: str, extra: list[str]) -> bool:
    if "*" in extra or origin.rstrip("/") in extra:
        return True
    try:
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and parts.hostname in LOCAL_HOSTS
    except ValueError:
        return False


class Cors:
    def __init__(self, app: ASGIApp, extra_origins: list[str]) -> None:
        self.app = app
        self.extra_origins = extra_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = Headers(scope=scope).get("origin") if scope["type"] == "http" else None
        if origin is None:
            await self.app(scope, receive, send)
            return
        if not origin_allowed(origin, self.extra_origins):
            await PlainTextResponse("Origin not allowed\n", status_code=403)(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and "access-control-request-method" in Headers(scope=scope):
            await Response(status_code=204, headers=_preflight_headers(origin))(scope, receive, send)
            return

        async def send_with_origin(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"access-control-allow-origin"]
                headers += [(b"access-control-allow-origin", origin.encode()), (b"vary", b"Origin")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_origin)


def _preflight_headers(origin: str) -> dict[str, str]:
    return {
        "access-control-allow-origin": origin,
        "access-control-allow-credentials": "true",
        "access-control-allow-methods": "GET, POST, DELETE, OPTIONS",
        "access-control-allow-headers": "*",
        "access-control-max-age": "600",
        "vary": "Origin",
    }
