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

try:
    import orjson
except ImportError:  # a platform without its wheel: json alone
    orjson = None  # type: ignore[assignment]

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
            return _loads(self.data)
        except (ValueError, RecursionError):
            return None


def _loads(text: str) -> Any:
    """JSON as ``json.loads`` reads it, by orjson where it can (a few times faster on a stream's chunks)."""
    if orjson is not None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:  # what orjson refuses and json takes: NaN, integers past 64 bits
            pass
    return json.loads(text)


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


# What makes a relayed OpenAI frame need its JSON read: usage to add or drop, tool calls to put in OpenAI's
# form, an error, the end of the answer (a finish reason, ``[DONE]``). Only the keys are looked for: inside
# a JSON string a quote is escaped, so text cannot pose as one of them.
_WORTH_READING = re.compile(rb'"(?:usage|tool_calls|function_call|error)"|"finish_reason"\s*:\s*"|\[DONE\]')
# A chunk carrying a token: text in one of these fields (the usage's count when an engine reports none).
_TOKEN = re.compile(rb'"(?:content|reasoning_content|text|arguments)"\s*:\s*"[^"]')


def tokens_in(block: bytes) -> int:
    """The token-carrying chunks among ``block``'s frames (one choice each), counted from their bytes."""
    return len(_TOKEN.findall(block))


async def split_blocks(chunks: AsyncIterator[bytes], limit: int = FRAME_BYTES) -> AsyncIterator[bytes | SseFrame]:
    """An OpenAI stream as it arrives: the whole frames of each read as one block of bytes, except the
    frames worth reading (``_WORTH_READING``), which come apart as SseFrames in their place. A frame's end
    is found with a byte scan; a frame longer than ``limit`` raises FrameTooLarge, as in split_frames."""
    pending = b""
    async for chunk in chunks:
        data = pending + chunk if pending else chunk
        end = _last_frame_end(data)
        if end < 0:
            pending = data
            if len(pending) > limit:
                raise FrameTooLarge(limit)
            continue
        block, pending = data[:end], data[end:]
        if len(pending) > limit:
            raise FrameTooLarge(limit)
        if _WORTH_READING.search(block) is None:
            yield block
            continue
        for item in _frames_worth_reading(block):
            yield item
    if pending.strip():
        yield _parse(pending + b"\n\n")


def _last_frame_end(data: bytes) -> int:
    """Where the last complete frame of ``data`` ends (after its blank line), -1 if none does."""
    plain, crlf = data.rfind(b"\n\n"), data.rfind(b"\n\r\n")
    return max(plain + 2 if plain >= 0 else -1, crlf + 3 if crlf >= 0 else -1)


def _frames_worth_reading(block: bytes) -> list[bytes | SseFrame]:
    """``block``'s frames, those worth reading parsed and the runs between them as bytes."""
    items: list[bytes | SseFrame] = []
    start = plain = 0
    for match in _FRAME_END.finditer(block):
        frame = block[start : match.end()]
        if _WORTH_READING.search(frame) is not None:
            if plain < start:
                items.append(block[plain:start])
            items.append(_parse(frame))
            plain = match.end()
        start = match.end()
    if plain < len(block):
        items.append(block[plain:])
    return items


def last_payload(block: bytes) -> dict[str, Any] | None:
    """The JSON object of the last frame of ``block`` (whole frames) that holds one."""
    for frame in reversed(_FRAME_END.split(block)):
        payload = _parse(frame + b"\n\n").payload if frame.strip() else None
        if isinstance(payload, dict):
            return payload
    return None


def data_frame(payload: object) -> bytes:
    text = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return f"data: {text}\n\n".encode()


def event_frame(event: str, payload: object) -> bytes:
    """A named event (Anthropic's Messages, OpenAI's Responses); its JSON by orjson where it can, about 9x
    faster on these events (bench/event_encoding.py), with non-ASCII text as UTF-8 rather than escaped."""
    return b"event: " + event.encode() + b"\ndata: " + _dumps(payload) + b"\n\n"


def _dumps(payload: object) -> bytes:
    if orjson is not None:
        try:
            return orjson.dumps(payload)
        except TypeError:  # what orjson refuses and json writes: integers past 64 bits, lone surrogates, int keys
            pass
    return json.dumps(payload, separators=(",", ":")).encode()


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
