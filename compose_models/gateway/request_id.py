"""``X-Request-ID``: the caller's own when it sends a sensible one, otherwise a new one; always returned."""

import re
import uuid
from collections.abc import Mapping

from starlette.types import Message, Scope, Send

HEADER = b"x-request-id"
_ACCEPTED = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")


def request_id_for(headers: Mapping[str, str]) -> str:
    offered = headers.get("x-request-id", "")
    return offered if _ACCEPTED.fullmatch(offered) else uuid.uuid4().hex


def scope_with_request_id(scope: Scope, request_id: str) -> Scope:
    """The scope with exactly one ``x-request-id`` header, so the app (or the upstream) sees the same id."""
    headers = [(name, value) for name, value in scope["headers"] if name != HEADER]
    return {**scope, "headers": [*headers, (HEADER, request_id.encode())]}


def returning_request_id(send: Send, request_id: str) -> Send:
    async def send_with_id(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(name, value) for name, value in message.get("headers", []) if name.lower() != HEADER]
            message = {**message, "headers": [*headers, (HEADER, request_id.encode())]}
        await send(message)

    return send_with_id
