"""OpenAI answers that stopped because the context was full: ``finish_reason`` stays ``"length"`` (what
OpenAI clients know) and the choice gains ``finish_reason_detail: "context_window_exceeded"``, which
tells them that asking for more would not help, unlike a ``max_tokens`` that ran out."""

import json
from typing import Any

from compose_models.runner.inference.engine_call import EngineCall

DETAIL_FIELD = "finish_reason_detail"
CONTEXT_FULL = "context_window_exceeded"


def ended_for_length(chunk: dict[str, Any]) -> bool:
    return any(choice.get("finish_reason") == "length" for choice in chunk.get("choices") or [])


async def marked(call: EngineCall, chunk: dict[str, Any]) -> dict[str, Any]:
    """``chunk`` (a whole answer or a stream's last chunk) with its length-ended choices marked when the
    context was full."""
    if ended_for_length(chunk) and await call.context_full("length"):
        for choice in chunk["choices"]:
            if choice.get("finish_reason") == "length":
                choice[DETAIL_FIELD] = CONTEXT_FULL
    return chunk


async def marked_body(call: EngineCall) -> bytes:
    """The whole answer's body, marked when the context was full (read before the engine is released)."""
    body = await call.body()
    if b'"length"' not in body:
        return body
    try:
        answer = json.loads(body)
    except (ValueError, RecursionError):
        return body
    return json.dumps(await marked(call, answer)).encode() if isinstance(answer, dict) else body
