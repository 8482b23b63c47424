"""The runner's HTTP client for its engines, against a real socket server that answers as an engine's
HTTP does (chunked streams, kept-alive connections, closes)."""

import asyncio
import socket
from collections.abc import Awaitable, Callable

import httpx
import pytest

from compose_models.runner.inference.engine_client import EngineClients

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    return await reader.readexactly(length)


def _with_server(handler: Handler, test: Callable[[str], Awaitable[None]]) -> None:
    async def run() -> None:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        async with server:
            await test(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")

    asyncio.run(asyncio.wait_for(run(), 20))


def test_a_chunked_stream_comes_whole_however_its_chunks_are_cut_and_the_connection_is_kept() -> None:
    connections: list[int] = []

    async def engine(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        for _ in range(2):
            body = await _read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
            wire = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (b"data: 1\n\n", body, b"data: [DONE]\n\n"))
            wire += b"0\r\n\r\n"
            for start in range(0, len(wire), 3):  # cut anywhere, chunk sizes and ends included
                writer.write(wire[start : start + 3])
                await writer.drain()
                await asyncio.sleep(0)
        writer.close()

    async def test(url: str) -> None:
        clients = EngineClients(connect_timeout=5, read_timeout=5)
        for number in range(2):
            response = await clients.post(url, "/v1/chat/completions", b"data: %d\n\n" % number, {})
            assert response.status_code == 200 and response.headers["content-type"] == "text/event-stream"
            assert b"".join([data async for data in response.aiter_raw()]) == b"data: 1\n\ndata: %d\n\ndata: [DONE]\n\n" % number
            await response.aclose()
        clients.close()

    _with_server(engine, test)
    assert len(connections) == 1


def test_an_answer_with_a_length_and_a_kept_connection_the_engine_closed_is_sent_again_afresh() -> None:
    answered: list[int] = []

    async def engine(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b'HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n{"ok":true}')
        await writer.drain()
        answered.append(1)
        writer.close()  # as llama-server closes an idle kept-alive connection

    async def test(url: str) -> None:
        clients = EngineClients(connect_timeout=5, read_timeout=5)
        for _ in range(2):
            response = await clients.post(url, "/v1/chat/completions", b"{}", {})
            assert await response.aread() == b'{"ok":true}'
            await response.aclose()
            await asyncio.sleep(0.05)  # the engine's close arrives
        clients.close()

    _with_server(engine, test)
    assert len(answered) == 2


def test_an_engine_silent_past_the_read_timeout_is_a_read_timeout() -> None:
    async def engine(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        await asyncio.sleep(10)

    async def test(url: str) -> None:
        clients = EngineClients(connect_timeout=5, read_timeout=0.2)
        with pytest.raises(httpx.ReadTimeout):
            await clients.post(url, "/v1/chat/completions", b"{}", {})
        clients.close()

    _with_server(engine, test)


def test_a_stream_cut_before_its_end_is_a_protocol_error_and_no_engine_is_a_connect_error() -> None:
    async def engine(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n9\r\ndata: 1\n\n\r\n")
        await writer.drain()
        writer.close()  # as an engine that dies mid-answer

    async def test(url: str) -> None:
        clients = EngineClients(connect_timeout=5, read_timeout=5)
        response = await clients.post(url, "/v1/chat/completions", b"{}", {})
        received = []
        with pytest.raises(httpx.RemoteProtocolError):
            async for data in response.aiter_raw():
                received.append(data)
        assert received == [b"data: 1\n\n"]
        await response.aclose()
        with socket.socket() as closed:  # a port no one listens on
            closed.bind(("127.0.0.1", 0))
            nobody = closed.getsockname()[1]
        with pytest.raises(httpx.ConnectError):
            await clients.post(f"http://127.0.0.1:{nobody}", "/v1/chat/completions", b"{}", {})
        clients.close()

    _with_server(engine, test)


def test_an_answer_closed_before_its_end_closes_the_engines_connection_at_once() -> None:
    """As when a client leaves mid-stream: the engine's next write fails, so it stops generating."""
    write_failed = asyncio.Event()

    async def engine(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        part = b"x" * 100_000
        try:
            while True:  # more than the client reads: its buffers fill, as a stalled relay's do
                writer.write(b"%x\r\n%s\r\n" % (len(part), part))
                await writer.drain()
        except ConnectionError:
            write_failed.set()

    async def test(url: str) -> None:
        clients = EngineClients(connect_timeout=5, read_timeout=5)
        response = await clients.post(url, "/v1/chat/completions", b"{}", {})
        await response.aiter_raw().__anext__()
        await response.aclose()
        await asyncio.wait_for(write_failed.wait(), 5)
        clients.close()

    _with_server(engine, test)
