"""Streaming: server-sent events (split from an engine's byte stream, and written), NDJSON lines, and
streamed responses whose client must keep reading."""

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from starlette.responses import StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from compose_models.log import say

_FRAME_END = re.compile(rb"\r?\n\r?\n")
DONE = "[DONE]"


@dataclass(frozen=True)
class SseFrame:
    raw: bytes  # the frame as received, with its terminating blank line
    data: str | None  # the joined ``data:`` lines; None for comments and pings

    @property
    def is_done(self) -> bool:
        return self.data == DONE

    @cached_property
    def payload(self) -> Any:
        """The data parsed as JSON; None for ``[DONE]``, comments and data that is not JSON."""
        if not self.data or self.is_done:
            return None
        try:
            return json.loads(self.data)
        except (ValueError, RecursionError):
            return None


def _parse(raw: bytes) -> SseFrame:
    lines = raw.decode("utf-8", errors="replace").splitlines()
    data = [line[5:].removeprefix(" ") for line in lines if line.startswith("data:")]
    return SseFrame(raw, "\n".join(data) if data else None)


FRAME_BYTES = 1024 * 1024  # the largest SSE frame an engine or upstream may send


class FrameTooLarge(Exception):
    """A stream sent more than ``FRAME_BYTES`` without ending a frame."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the stream sent a frame larger than {limit // 1024} KiB without ending it")


async def split_frames(chunks: AsyncIterator[bytes], limit: int = FRAME_BYTES) -> AsyncIterator[SseFrame]:
    """Frames as soon as their blank line arrives; nothing is held back longer than that. Each chunk's
    bytes are scanned once (a frame's end may straddle two chunks: the last 3 bytes are scanned again),
    and a frame longer than ``limit`` raises FrameTooLarge."""
    pending = bytearray()
    scanned = 0  # bytes at the start of ``pending`` known to hold no frame end
    async for chunk in chunks:
        pending += chunk
        while match := _FRAME_END.search(pending, max(0, scanned - 3)):
            yield _parse(bytes(pending[: match.end()]))
            del pending[: match.end()]  # cheap: a bytearray drops its head without copying the rest
            scanned = 0
        scanned = len(pending)
        if scanned > limit:
            raise FrameTooLarge(limit)
    if pending.strip():
        yield _parse(bytes(pending) + b"\n\n")


def data_frame(payload: object) -> bytes:
    text = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return f"data: {text}\n\n".encode()


def event_frame(event: str, payload: object) -> bytes:
    return f"event: {event}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()


def json_line(payload: object) -> bytes:
    """One line of an NDJSON stream (Ollama's answers, Docker Model Runner's progress)."""
    return (json.dumps(payload, separators=(",", ":")) + "\n").encode()


class BoundedStreamingResponse(StreamingResponse):
    """A stream whose client must take each chunk within ``send_timeout`` seconds, or is dropped.

    Once a client stops reading, its socket's buffers fill and every send waits on it; unbounded, it
    would hold what feeds the stream (an engine's slot) for as long as it liked. When a send waits
    too long the stream stops as if the client had left: its body is closed and the background task
    (which releases the engine) runs, whatever ended the stream. One watchdog per stream times the
    sends (a timeout per chunk would cost a timer for each one).
    """

    def __init__(self, *args: Any, send_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.send_timeout = send_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        release, self.background = self.background, None
        loop = asyncio.get_running_loop()
        streaming = asyncio.current_task()
        assert streaming is not None
        sending_since: list[float] = []  # when the send under way began; empty between sends
        dropped: list[bool] = []

        async def timed_send(message: Message) -> None:
            sending_since.append(loop.time())
            try:
                await send(message)
            finally:
                sending_since.clear()

        async def watch() -> None:
            while True:
                waited = loop.time() - sending_since[0] if sending_since else 0.0
                if waited >= self.send_timeout:
                    dropped.append(True)
                    streaming.cancel()
                    return
                await asyncio.sleep(self.send_timeout - waited)

        watchdog = asyncio.create_task(watch())
        try:
            await super().__call__(scope, receive, timed_send)
        except asyncio.CancelledError:
            if not dropped:
                raise
            streaming.uncancel()
            client = scope.get("client") or ("?", 0)
            say(f"{client[0]}:{client[1]} left {scope['path']}'s stream unread for {self.send_timeout:g}s: it is dropped")
        finally:
            watchdog.cancel()
            close = getattr(self.body_iterator, "aclose", None)
            if close is not None:
                await close()
            if release is not None:
                await release()
