"""Reading an answer's body with a bound on its size: an upstream is another machine, and its answer must
not grow the runner's memory without limit (``aread`` keeps whatever it is sent)."""

from collections.abc import AsyncIterator
from typing import Protocol

MIB = 1024 * 1024
ANSWER_BYTES = 16 * MIB  # the largest whole (not streamed) answer an upstream may send
ERROR_BYTES = 64 * 1024  # of an error answer's body, read to find its message
ERROR_TEXT = 4096  # characters of an upstream's error message passed on to the caller
LIST_BYTES = 4 * MIB  # the largest model list (or health answer) an upstream may send


class Body(Protocol):
    """An answer whose body is read as it comes: httpx's, or the engine client's."""

    def aiter_bytes(self) -> AsyncIterator[bytes]: ...


class AnswerTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"its answer is larger than {_size(limit)}")
        self.limit = limit


async def read_capped(response: Body, limit: int) -> bytes:
    """The whole body of ``response``; AnswerTooLarge as soon as it passes ``limit`` bytes."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            raise AnswerTooLarge(limit)
    return bytes(body)


async def read_head(response: Body, limit: int) -> bytes:
    """The first ``limit`` bytes of the body of ``response``; the rest is left unread."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) >= limit:
            break
    return bytes(body[:limit])


def cut(text: str, limit: int = ERROR_TEXT) -> str:
    """``text``, or its first ``limit`` characters and a note saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters cut)"


def _size(limit: int) -> str:
    return f"{limit // MIB} MiB" if limit >= MIB else f"{limit // 1024} KiB"
