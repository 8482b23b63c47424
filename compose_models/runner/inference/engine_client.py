"""A small HTTP/1.1 client for the runner's own engines, on asyncio's protocols.

An engine streams one write per token; through httpx each read of it passes httpcore, h11 and an anyio
cancel scope, which costs the runner more CPU than all the rest of the relay (bench/relay.py). Here a
read is what the socket gave: the chunked encoding is undone in place and the bytes go on. Only what
the runner asks of an engine on loopback is spoken: a request with a whole body, an answer with a
length, chunks or a close. Connections are kept per engine (one pool each, idle ones closed after
``KEEP_IDLE`` seconds, before llama-server drops them at 5). Failures are httpx's exception types, so
that the callers tell a hung engine from a dead one as they do for httpx. Upstreams keep httpx (TLS,
proxies, redirects).
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx

KEEP_IDLE = 2.0  # seconds an idle connection is kept
KEEP_COUNT = 32  # idle connections kept per engine
HEAD_BYTES = 64 * 1024  # the largest status line and headers an engine may send
READ_BYTES = 1024 * 1024  # buffered before the socket is no longer read (the relay is behind)
CHUNK_BYTES = 64 * 1024 * 1024  # the largest chunk of a chunked answer (a whole answer may come as one)


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.closed = False
        self.error: Exception | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > READ_BYTES and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.closed = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed, self.error = True, exc
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def more(self, timeout: float) -> bool:
        """Wait for bytes beyond the buffer's; False once the connection has closed."""
        if self.closed:
            return False
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        timer = loop.call_later(timeout, _time_out, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None
        return True

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def _time_out(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(httpx.ReadTimeout("the engine sent nothing within the read timeout"))


class EngineResponse:
    """An engine's answer: its status and headers read, its body read as it is iterated. What the runner
    uses of ``httpx.Response``, with the same names."""

    def __init__(self, pool: "EnginePool", connection: _Connection, status: int, headers: httpx.Headers, read_timeout: float) -> None:
        self._pool = pool
        self._connection = connection
        self.status_code = status
        self.headers = headers
        self._read_timeout = read_timeout
        self._done = False  # the body has been read to its end
        length = headers.get("content-length")
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        self._left = int(length) if length is not None and length.isdigit() and not self._chunked else None
        # Kept for the next request when the body's end is known and the engine did not ask to close.
        self._keep = (self._chunked or self._left is not None) and headers.get("connection", "").lower() != "close"

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        """The body's bytes as they come, as little cut as the socket gave them."""
        connection = self._connection
        while not self._done:
            data = self._take()
            if data:
                yield data
                continue
            if self._done:
                break
            if not await connection.more(self._read_timeout):
                if self._chunked or self._left:
                    raise httpx.RemoteProtocolError("the engine closed the connection before the end of its answer")
                self._done = True

    aiter_bytes = aiter_raw

    def _take(self) -> bytes:
        buffer = self._connection.buffer
        if self._left is not None:
            data = bytes(buffer[: self._left])
            del buffer[: len(data)]
            self._left -= len(data)
            self._done = self._left == 0
            return data
        if not self._chunked:  # to the close
            data = bytes(buffer)
            buffer.clear()
            return data
        return self._take_chunks(buffer)

    def _take_chunks(self, buffer: bytearray) -> bytes:
        pieces: list[bytes] = []
        start = 0
        while True:
            line_end = buffer.find(b"\r\n", start)
            if line_end < 0:
                if len(buffer) - start > 1024:
                    raise httpx.RemoteProtocolError("the engine sent a chunk size line longer than 1 KiB")
                break
            size_text = bytes(buffer[start:line_end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise httpx.RemoteProtocolError(f"the engine sent a bad chunk size {size_text[:20]!r}") from None
            if size > CHUNK_BYTES:
                raise httpx.RemoteProtocolError(f"the engine announced a chunk of {size} bytes, more than 64 MiB")
            if size == 0:  # the last chunk; no trailers from an engine
                trailer_end = buffer.find(b"\r\n", line_end + 2)
                if trailer_end < 0:
                    break
                start = trailer_end + 2
                self._done = True
                break
            if len(buffer) < line_end + 2 + size + 2:
                break
            pieces.append(bytes(buffer[line_end + 2 : line_end + 2 + size]))
            start = line_end + 2 + size + 2
        del buffer[:start]
        return b"".join(pieces)

    async def aread(self) -> bytes:
        return b"".join([data async for data in self.aiter_raw()])

    async def aclose(self) -> None:
        connection = self._connection
        if connection is None:
            return
        if not self._done and connection.buffer:  # the end may have come already, unread: then the connection is kept
            with contextlib.suppress(httpx.RemoteProtocolError):
                self._take()
        self._connection = None  # type: ignore[assignment]
        if self._done and self._keep and not connection.closed and not connection.buffer:
            self._pool.keep(connection)
        else:
            connection.close()


class EnginePool:
    """Kept-alive connections to one engine's ``host:port``."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._idle: list[tuple[float, _Connection]] = []

    def keep(self, connection: _Connection) -> None:
        if len(self._idle) < KEEP_COUNT:
            self._idle.append((time.monotonic(), connection))
        else:
            connection.close()

    def _kept(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            since, connection = self._idle.pop()
            if now - since < KEEP_IDLE and not connection.closed:
                return connection
            connection.close()
        return None

    async def _connect(self, timeout: float) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                _, connection = await loop.create_connection(_Connection, self.host, self.port)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"no connection to {self.host}:{self.port} within {timeout:g}s") from None
        except OSError as error:
            raise httpx.ConnectError(str(error) or type(error).__name__) from None
        return connection

    async def post(self, path: str, body: bytes, headers: dict[str, str], connect_timeout: float, read_timeout: float) -> EngineResponse:
        head = f"POST {path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\ncontent-length: {len(body)}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = head.encode("latin-1") + b"\r\n" + body
        connection = self._kept()
        if connection is not None:
            try:  # a kept connection the engine has just closed never read the request: once more, afresh
                return await self._exchange(connection, request, read_timeout)
            except httpx.RemoteProtocolError:
                pass
        return await self._exchange(await self._connect(connect_timeout), request, read_timeout)

    async def _exchange(self, connection: _Connection, request: bytes, read_timeout: float) -> EngineResponse:
        try:
            assert connection.transport is not None
            connection.transport.write(request)
            while (end := connection.buffer.find(b"\r\n\r\n")) < 0:
                if len(connection.buffer) > HEAD_BYTES:
                    raise httpx.RemoteProtocolError("the engine's answer has a head larger than 64 KiB")
                if not await connection.more(read_timeout):
                    raise httpx.RemoteProtocolError("the engine closed the connection without answering")
            head = bytes(connection.buffer[:end]).decode("latin-1").split("\r\n")
            del connection.buffer[: end + 4]
            status = _status(head[0])
            headers = httpx.Headers([_header(line) for line in head[1:] if line])
        except BaseException:
            connection.close()
            raise
        if status == 100:  # an engine does not send one unasked; it would be a protocol error here
            connection.close()
            raise httpx.RemoteProtocolError("the engine answered 100 Continue")
        return EngineResponse(self, connection, status, headers, read_timeout)

    def close(self) -> None:
        for _, connection in self._idle:
            connection.close()
        self._idle.clear()


def _status(line: str) -> int:
    parts = line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise httpx.RemoteProtocolError(f"the engine's answer began with {line[:40]!r}, not an HTTP status line")
    return int(parts[1])


def _header(line: str) -> tuple[str, str]:
    name, colon, value = line.partition(":")
    if not colon:
        raise httpx.RemoteProtocolError(f"the engine sent a header line without a colon: {line[:40]!r}")
    return name.strip(), value.strip()


class EngineClients:
    """One pool per engine address, for the runner's whole life."""

    def __init__(self, connect_timeout: float, read_timeout: float) -> None:
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self._pools: dict[tuple[str, int], EnginePool] = {}

    def pool_for(self, base_url: str) -> EnginePool | None:
        """The pool for an engine on plain HTTP at ``base_url``; None for anything else (httpx serves it)."""
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname or parts.port is None or parts.path not in ("", "/"):
            return None
        key = (parts.hostname, parts.port)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = EnginePool(*key)
        return pool

    async def post(self, base_url: str, path: str, body: bytes, headers: dict[str, str]) -> EngineResponse:
        pool = self.pool_for(base_url)
        assert pool is not None
        return await pool.post(path, body, headers, self.connect_timeout, self.read_timeout)

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
