"""An OpenAI answer for one generation: a whole JSON body, or server-sent events as tokens come.

Chat and legacy text completions differ only in their shapes (``ChatShape``, ``TextShape``).
"""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from compose_models.runner.backends.batched.decoder import Finished
from compose_models.runner.backends.batched.generation import Generation

_DISCONNECT_POLL = 0.25  # seconds between checks that a non-streaming client is still there


Logprobs = list[dict[str, Any]] | None  # chat ``logprobs.content`` entries; None when not asked for


class ChatShape:
    object_name = "chat.completion"

    def __init__(self, alias: str) -> None:
        self.alias = alias
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())

    def head(self) -> dict[str, Any]:
        return {"id": self.id, "created": self.created, "model": self.alias}

    def whole(self, text: str, finish_reason: str | None, logprobs: Logprobs) -> dict[str, Any]:
        message = {"role": "assistant", "content": text}
        return {"index": 0, "message": message, "logprobs": self.logprobs(logprobs), "finish_reason": finish_reason}

    def delta(self, text: str | None, finish_reason: str | None, logprobs: Logprobs, first: bool = False) -> dict[str, Any]:
        delta: dict[str, Any] = {"role": "assistant", "content": ""} if first else {}
        if text is not None:
            delta["content"] = text
        return {"index": 0, "delta": delta, "logprobs": self.logprobs(logprobs), "finish_reason": finish_reason}

    def logprobs(self, entries: Logprobs) -> dict[str, Any] | None:
        return None if entries is None else {"content": entries}


class TextShape(ChatShape):
    object_name = "text_completion"

    def __init__(self, alias: str) -> None:
        super().__init__(alias)
        self.id = f"cmpl-{uuid.uuid4().hex}"
        self._text_offset = 0

    def whole(self, text: str, finish_reason: str | None, logprobs: Logprobs) -> dict[str, Any]:
        return {"index": 0, "text": text, "logprobs": self.logprobs(logprobs), "finish_reason": finish_reason}

    def delta(self, text: str | None, finish_reason: str | None, logprobs: Logprobs, first: bool = False) -> dict[str, Any]:
        return self.whole(text or "", finish_reason, logprobs)

    def logprobs(self, entries: Logprobs) -> dict[str, Any] | None:
        """The legacy completions shape: parallel lists, alternatives as {token: logprob}."""
        if entries is None:
            return None
        offsets = []
        for entry in entries:
            offsets.append(self._text_offset)
            self._text_offset += len(entry["token"])
        return {
            "tokens": [entry["token"] for entry in entries],
            "token_logprobs": [entry["logprob"] for entry in entries],
            "top_logprobs": [{top["token"]: top["logprob"] for top in entry["top_logprobs"]} for entry in entries],
            "text_offset": offsets,
        }


async def answer(request: Request, body: dict[str, Any], generation: Generation, shape: ChatShape) -> Response:
    if body.get("stream"):
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        pieces = generation.pieces()
        # As llama-server: the status waits for the first piece, so a job that fails before it gets an error answer.
        first = await _unless_gone(request, anext(pieces, ""))  # "": it ended before any text
        if first is None:
            return Response(status_code=499)
        if not first and generation.failure is not None:
            return _failed(generation.failure)
        return StreamingResponse(_events(generation, pieces, first or None, shape, include_usage), media_type="text/event-stream")
    text = await _unless_gone(request, _whole_text(generation))
    if text is None:
        return Response(status_code=499)
    if generation.failure is not None:
        return _failed(generation.failure)
    choice = shape.whole(text, generation.finish_reason, _logprobs(generation))
    return JSONResponse({**shape.head(), "object": shape.object_name, "choices": [choice], "usage": generation.usage.as_openai()})


async def _whole_text(generation: Generation) -> str:
    return "".join([text async for text in generation.pieces()])


async def _unless_gone(request: Request, waited: Awaitable[str]) -> str | None:
    """What ``waited`` gives, or None when the client disconnected first (it is then cancelled, and with it
    the generation it waits on: its job leaves its slot)."""
    task = asyncio.ensure_future(waited)
    while not task.done():
        await asyncio.wait([task], timeout=_DISCONNECT_POLL)
        if not task.done() and await request.is_disconnected():
            task.cancel()
            return None
    return task.result()


def _error(failure: Finished) -> dict[str, Any]:
    """OpenAI's error object, as llama-server writes it: a 400 for the request's fault, else a 500."""
    if failure.client_error:
        return {"message": failure.error, "type": "invalid_request_error", "code": 400}
    return {"message": failure.error or "the engine failed", "type": "server_error", "code": 500}


def _failed(failure: Finished) -> Response:
    error = _error(failure)
    return JSONResponse({"error": error}, error["code"])


async def _events(generation: Generation, pieces: AsyncIterator[str], first: str | None, shape: ChatShape,
                  include_usage: bool) -> AsyncIterator[str]:  # fmt: skip
    chunk_object = f"{shape.object_name}.chunk" if shape.object_name.startswith("chat") else shape.object_name

    def event(choices: list[dict[str, Any]], **extra: Any) -> str:
        return f"data: {json.dumps({**shape.head(), 'object': chunk_object, 'choices': choices, **extra})}\n\n"

    if not isinstance(shape, TextShape):
        yield event([shape.delta(None, None, None, first=True)])
    if first is not None:
        yield event([shape.delta(first, None, _logprobs(generation))])
        async for text in pieces:
            yield event([shape.delta(text, None, _logprobs(generation))])
    if generation.failure is not None:  # after the first piece: an error event ends the stream, as llama-server's
        yield f"data: {json.dumps({'error': _error(generation.failure)})}\n\n"
        return
    yield event([shape.delta(None, generation.finish_reason, _logprobs(generation))])
    if include_usage:
        yield event([], usage=generation.usage.as_openai())
    yield "data: [DONE]\n\n"


def _logprobs(generation: Generation) -> Logprobs:
    return generation.take_logprobs() if generation.wants_logprobs else None
