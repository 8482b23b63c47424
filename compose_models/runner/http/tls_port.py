"""One port for TLS, and plain HTTP only where it is allowed: each connection's first byte says which the
client speaks (a TLS handshake starts with 0x16). A plain request where TLS is required is answered with
a 400 that says to use ``https://``, rather than a closed connection that clients report as a server
that "disconnected without sending a response"; where plain HTTP is allowed (the local Docker bridge,
by default) it is served as before.

The byte is peeked, not read, so the handshake reaches TLS untouched: on a duplicate of the socket,
with the connection's own reading paused, which asyncio's selector loop allows (uvloop does not)."""

import asyncio
import os
import socket
import ssl
from collections.abc import Callable
from typing import Any

HANDSHAKE = 0x16
DECIDE_SECONDS = 10.0  # a client that connects and says nothing is dropped
HANDSHAKE_SECONDS = 10.0

PLAIN_REFUSAL = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
    b"Content-Length: %d\r\n\r\n%s"
)


def _refusal() -> bytes:
    text = b"this port speaks TLS: use https:// (plain HTTP was sent to it)\n"
    return PLAIN_REFUSAL % (len(text), text)


class TlsPort(asyncio.Protocol):
    """A connection until its first byte: then TLS, plain HTTP (when ``plain_allowed`` for the address it
    arrived at) or a refusal. ``inner`` makes the HTTP protocol (uvicorn's) that serves it from then on."""

    def __init__(
        self, inner: Callable[[], asyncio.Protocol], context_for: Callable[[str], ssl.SSLContext],
        plain_allowed: Callable[[str], bool],
    ) -> None:  # fmt: skip
        self._inner = inner
        self._context_for = context_for
        self._plain_allowed = plain_allowed
        self._transport: Any = None
        self._peek: socket.socket | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._handshake: asyncio.Task[None] | None = None  # held: the loop keeps only a weak reference

    def connection_made(self, transport: Any) -> None:
        loop = asyncio.get_running_loop()
        self._transport = transport
        transport.pause_reading()
        raw = transport.get_extra_info("socket")
        self._peek = socket.socket(fileno=os.dup(raw.fileno()))
        loop.add_reader(self._peek.fileno(), self._readable)
        self._deadline = loop.call_later(DECIDE_SECONDS, self._give_up)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_peeking()

    def _readable(self) -> None:
        assert self._peek is not None
        try:
            first = self._peek.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            return
        except OSError:
            first = b""
        self._stop_peeking()
        transport = self._transport
        address = str((transport.get_extra_info("sockname") or ("",))[0])
        if not first:
            transport.close()
        elif first[0] == HANDSHAKE:
            self._handshake = asyncio.ensure_future(self._start_tls(self._context_for(address)))
        elif self._plain_allowed(address):
            inner = self._inner()
            transport.set_protocol(inner)
            inner.connection_made(transport)
            transport.resume_reading()
        else:
            transport.write(_refusal())
            transport.close()

    async def _start_tls(self, context: ssl.SSLContext) -> None:
        loop = asyncio.get_running_loop()
        waiting = _Waiting()
        try:
            secure = await loop.start_tls(
                self._transport, waiting, context, server_side=True, ssl_handshake_timeout=HANDSHAKE_SECONDS
            )
        except (OSError, ssl.SSLError, ConnectionError, TimeoutError):
            self._transport.abort()  # a failed handshake: the client says why (unknown CA, wrong name, ...)
            return
        if secure is None:
            return
        waiting.hand_over(secure, self._inner())

    def _give_up(self) -> None:
        self._stop_peeking()
        self._transport.abort()

    def _stop_peeking(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if self._peek is not None:
            asyncio.get_running_loop().remove_reader(self._peek.fileno())
            self._peek.close()
            self._peek = None


class _Waiting(asyncio.Protocol):
    """What a TLS connection delivers between its handshake and ``start_tls`` returning (the request may
    arrive with the handshake's last flight), kept for the HTTP protocol, which needs its transport first."""

    def __init__(self) -> None:
        self._received: list[bytes] = []
        self._ended = False
        self._lost: tuple[Exception | None] | None = None

    def data_received(self, data: bytes) -> None:
        self._received.append(data)

    def eof_received(self) -> bool | None:
        self._ended = True
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = (exc,)

    def hand_over(self, transport: Any, inner: asyncio.Protocol) -> None:
        transport.set_protocol(inner)
        inner.connection_made(transport)
        for data in self._received:
            inner.data_received(data)
        if self._ended:
            inner.eof_received()
        if self._lost is not None:
            inner.connection_lost(self._lost[0])


def tls_port_protocol(
    protocol_class: Callable[..., asyncio.Protocol], context_for: Callable[[str], ssl.SSLContext],
    plain_allowed: Callable[[str], bool],
) -> Callable[..., asyncio.Protocol]:
    """What uvicorn's ``Config(http=...)`` takes: it builds ``protocol_class`` (uvicorn's HTTP protocol) with
    uvicorn's arguments, behind a ``TlsPort``; ``context_for`` and ``plain_allowed`` take the address a
    connection arrived at."""

    def make(**uvicorn_arguments: Any) -> asyncio.Protocol:
        return TlsPort(lambda: protocol_class(**uvicorn_arguments), context_for, plain_allowed)

    return make
