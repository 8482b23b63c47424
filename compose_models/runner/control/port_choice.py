"""The runner's port: the preferred one (12434), or the next free one when something else holds it.

Docker Model Runner on Docker Desktop holds 127.0.0.1:12434 when its host TCP access is on; it is
recognised by its ``GET /`` answer ("Docker Model Runner ... The service is running.").
"""

import errno
import socket
from dataclasses import dataclass

from compose_models.runner.control.local_http import LocalHTTPError, local_get

SEARCHED_PORTS = 50


@dataclass(frozen=True)
class PortChoice:
    port: int
    preferred: int
    holder: str | None = None  # who holds the preferred port, when it was taken

    def note(self) -> str | None:
        if self.holder is None:
            return None
        return f"port {self.preferred} is held by {self.holder}; the runner listens on port {self.port} instead"


def port_holder(port: int, host: str = "127.0.0.1") -> str | None:
    """Who answers on ``host:port``: Docker Model Runner, a compose-models runner, another program; None if free."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            pass
    except OSError:
        return None
    try:
        response = local_get(f"http://{host}:{port}/", timeout=2.0)
    except LocalHTTPError:
        return "a program that does not speak HTTP"
    text = response.text
    if "Docker Model Runner" in text:
        return "Docker Model Runner"
    if text.startswith("compose-models runner"):
        return "another compose-models runner (of another COMPOSE_MODELS_HOME)"
    server = response.headers.get("server")
    return f"another HTTP server{f' ({server})' if server else ''}"


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``; raises OSError when it cannot bind."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP; without it
    # every response on a kept-alive connection waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def bind_first_free(host: str, preferred: int) -> tuple[socket.socket, PortChoice]:
    """Bind ``host`` on ``preferred``, else on the next free port after it.

    A port counts as taken when something answers on it, not only when binding fails: on macOS
    SO_REUSEADDR lets us bind 127.0.0.1 beside a server on the wildcard address, and then the two
    would split the callers.
    """
    asked = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    holder = port_holder(preferred, asked)
    for port in range(preferred, preferred + SEARCHED_PORTS):
        if port != preferred and port_holder(port, asked) is not None:
            continue
        if port == preferred and holder is not None:
            continue
        try:
            sock = bind_socket(host, port)
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            if port == preferred:
                holder = "another program"
            continue
        return sock, PortChoice(port, preferred, holder)
    raise OSError(f"no free port among {preferred}-{preferred + SEARCHED_PORTS - 1} on {host}")
