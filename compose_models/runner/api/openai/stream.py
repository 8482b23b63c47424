"""Relaying an engine's OpenAI stream to the client as it arrives.

The engine's bytes pass through as they come, several frames in one write when one read brought them;
only frames that may need a change are parsed (``EngineCall.relayed``). Frames pass through as they are, except that tool-call fragments are put in OpenAI's form (the id,
type and name only in a call's first fragment; llama-cpp-python repeats them, which makes clients
concatenate names), and usage is given exactly when the client asked for it with
``stream_options.include_usage``: the engine's usage chunk, or one counted here. A chunk ending the
answer for length is held until the engine's usage has come, to say whether the context was full
(context_full.py).
"""

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from compose_models.runner.api.openai.context_full import ended_for_length, marked
from compose_models.runner.http.errors import ApiError
from compose_models.runner.http.streams import data_frame, last_payload
from compose_models.runner.inference.engine_call import EngineCall


async def relay_openai_stream(call: EngineCall, include_usage: bool) -> AsyncIterator[bytes]:
    tool_calls_seen: set[int] = set()
    last_chunk: dict[str, Any] | bytes = {}  # the last chunk, or the last block passed on unread
    usage_sent = False
    held: dict[str, Any] | None = None  # the chunk that ended the answer for length
    try:
        async with contextlib.aclosing(call.relayed()) as relayed:
            async for frame in relayed:
                if held is not None:
                    yield data_frame(await marked(call, held))
                    held = None
                if isinstance(frame, bytes):  # frames that need no change
                    last_chunk = frame
                    yield frame
                    continue
                chunk = frame.payload
                if isinstance(chunk, dict) and ended_for_length(chunk) and not _has_tool_calls(chunk):
                    last_chunk = held = chunk
                    continue
                if frame.is_done:
                    if include_usage and not usage_sent:
                        yield data_frame(await _usage_chunk(call, last_chunk))
                    yield frame.raw
                    # The answer is whole: it ends now, not once the engine's connection has ended too, which a
                    # client that hangs up at [DONE] could otherwise beat (and the stream be logged as cut off).
                    return
                if not isinstance(chunk, dict):
                    yield frame.raw
                    continue
                last_chunk = chunk
                if _is_usage_only(chunk):
                    if include_usage:
                        usage_sent = True
                        yield frame.raw
                    continue
                if _has_tool_calls(chunk):
                    yield data_frame(_normalized_tool_calls(chunk, tool_calls_seen))
                else:
                    yield frame.raw
        if held is not None:
            yield data_frame(await marked(call, held))
    except ApiError as error:
        yield data_frame({"error": {"message": error.message, "type": "server_error", "param": None, "code": None}})


def _is_usage_only(chunk: dict[str, Any]) -> bool:
    return not chunk.get("choices") and isinstance(chunk.get("usage"), dict)


def _has_tool_calls(chunk: dict[str, Any]) -> bool:
    return any((choice.get("delta") or {}).get("tool_calls") for choice in chunk.get("choices") or [])


def _normalized_tool_calls(chunk: dict[str, Any], seen: set[int]) -> dict[str, Any]:
    for choice in chunk["choices"]:
        delta = choice.get("delta") or {}
        delta.pop("function_call", None)
        for call in delta.get("tool_calls") or []:
            index = call.get("index", 0)
            if index in seen:
                call.pop("id", None)
                call.pop("type", None)
                (call.get("function") or {}).pop("name", None)
            seen.add(index)
    return chunk


async def _usage_chunk(call: EngineCall, last: dict[str, Any] | bytes) -> dict[str, Any]:
    await call.prompt_tokens()
    last_chunk = (last_payload(last) or {}) if isinstance(last, bytes) else last
    return {
        "id": last_chunk.get("id", ""),
        "object": last_chunk.get("object", "chat.completion.chunk"),
        "created": last_chunk.get("created", int(time.time())),
        "model": last_chunk.get("model", call.model),
        "choices": [],
        "usage": call.usage.openai_usage(),
    }
