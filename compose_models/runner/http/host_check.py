"""Only requests addressed to this server by one of its names: the defence against DNS rebinding.

A web page the user opens can rebind its own name to 127.0.0.1 and then read this server's answers,
as browsers send no ``Origin`` on same-origin requests; but it still sends its own name in ``Host``.
So every request must name an allowed host, or an address of the very socket it arrived on (a page
cannot make a browser send an IP literal it was not served from). Without ``Host`` (HTTP/1.0, no
browser) a request passes.
"""

import ipaddress
from collections.abc import Callable, Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from compose_models.runner.http.dialects import Dialect
from compose_models.runner.http.errors import ApiError, error_response

ALLOWED_HOSTS_VARIABLE = "COMPOSE_MODELS_ALLOWED_HOSTS"


class HostCheck:
    def __init__(self, app: ASGIApp, allowed: Iterable[str], dialect_of: Callable[[str, str], Dialect]) -> None:
        self.app = app
        self.allowed = {_normal(name) for name in allowed}
        self.dialect_of = dialect_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = _host_of(scope)
            if host is not None and host not in self.allowed and not _is_socket_address(host, scope):
                message = (
                    f"Host {host!r} is not a name of this runner; if it is one, "
                    f"add it to ${ALLOWED_HOSTS_VARIABLE} (comma-separated) and restart the runner"
                )
                dialect = self.dialect_of(scope["method"], scope["path"])
                await error_response(dialect, ApiError(403, message))(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _host_of(scope: Scope) -> str | None:
    """The host a request names, without its port, in lower case; None without a ``Host`` header."""
    for name, value in scope["headers"]:
        if name == b"host":
            host = value.decode("latin-1").strip()
            if host.startswith("["):
                return _normal(host[1 : host.find("]")] if "]" in host else host[1:])
            name_part, colon, port = host.rpartition(":")
            return _normal(name_part if colon and port.isdigit() else host)
    return None


def _normal(host: str) -> str:
    host = host.strip().strip("[]").lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def _is_socket_address(host: str, scope: Scope) -> bool:
    server = scope.get("server")
    return server is not None and len(server) > 0 and _normal(str(server[0])) == host
