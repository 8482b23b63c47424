"""Streaming wire formats: server-sent events (split from an engine's byte stream, and written) and NDJSON lines."""

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

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
        except ValueError:
            return None


def _parse(raw: bytes) -> SseFrame:
    lines = raw.decode("utf-8", errors="replace").splitlines()
    data = [line[5:].removeprefix(" ") for line in lines if line.startswith("data:")]
    return SseFrame(raw, "\n".join(data) if data else None)


async def split_frames(chunks: AsyncIterator[bytes]) -> AsyncIterator[SseFrame]:
    """Frames as soon as their blank line arrives; nothing is held back longer than that."""
    pending = b""
    async for chunk in chunks:
        pending += chunk
        while match := _FRAME_END.search(pending):
            yield _parse(pending[: match.end()])
            pending = pending[match.end() :]
    if pending.strip():
        yield _parse(pending + b"\n\n")


def data_frame(payload: object) -> bytes:
    text = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return f"data: {text}\n\n".encode()


def event_frame(event: str, payload: object) -> bytes:
    return f"event: {event}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()


def json_line(payload: object) -> bytes:
    """One line of an NDJSON stream (Ollama's answers, Docker Model Runner's progress)."""
    return (json.dumps(payload, separators=(",", ":")) + "\n").encode()
