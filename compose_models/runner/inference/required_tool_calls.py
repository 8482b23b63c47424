"""Making every engine honour "call one of these tools" (``tool_choice: "required"``, Anthropic's
``{"type": "any"}``) when more than one tool is offered.

As for a single forced function (forced_tool_call.py), the runner asks the engine for JSON of a schema,
a grammar every engine enforces: here ``{"name": <one of the tools>, "arguments": <its parameters>}``
(``anyOf`` over the tools), or an array of one or more of those when parallel calls are allowed. The
JSON is held back until the answer ends, then handed back as OpenAI ``tool_calls``.
"""

import json
import uuid
from typing import Any

# Bounds what is held back from a stream: far above any call's arguments, far below a memory problem.
MAX_HELD_CHARS = 1_000_000


def call_schema(functions: list[dict[str, Any]], parallel: bool) -> dict[str, Any]:
    """The schema of a call to any of ``functions``; "name" comes first, so it is generated first."""
    shapes = [
        {
            "type": "object",
            "properties": {
                "name": {"const": function["name"]},
                "arguments": function.get("parameters") or {"type": "object"},
            },
            "required": ["name", "arguments"],
            "additionalProperties": False,
        }
        for function in functions
    ]
    one = shapes[0] if len(shapes) == 1 else {"anyOf": shapes}
    return {"type": "array", "items": one, "minItems": 1} if parallel else one


class RequiredToolCalls:
    def __init__(self, parallel: bool) -> None:
        self.parallel = parallel
        self._held = ""

    @classmethod
    def of(cls, payload: dict[str, Any], functions: list[dict[str, Any]]) -> tuple[dict[str, Any], "RequiredToolCalls"]:
        # Only an explicit true asks for an array: a small model held to "one or more" tends to repeat
        # its call until max_tokens, and one call is a valid answer when parallel calls are allowed.
        parallel = payload.get("parallel_tool_calls") is True
        return constrained_to(payload, call_schema(functions, parallel)), cls(parallel)

    def rewrite_answer(self, answer: dict[str, Any]) -> dict[str, Any]:
        for choice in answer.get("choices") or []:
            message = choice.get("message") or {}
            calls = self._calls(message.get("content") or "")
            if calls is None:  # cut short (max_tokens): the partial JSON is left as text
                continue
            message["tool_calls"] = calls
            message["content"] = None
            choice["finish_reason"] = _finish_reason(choice.get("finish_reason"))
        return answer

    def rewrite_chunk(self, chunk: dict[str, Any]) -> dict[str, Any]:
        """The chunk without its text, which is held back; the calls ride on the chunk that ends the answer."""
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            content = delta.pop("content", None)
            if isinstance(content, str) and len(self._held) + len(content) <= MAX_HELD_CHARS:
                self._held += content
            if not choice.get("finish_reason"):
                continue
            calls = self._calls(self._held)
            if calls is None:
                delta["content"] = self._held
            else:
                delta["tool_calls"] = [{**call, "index": index} for index, call in enumerate(calls)]
                choice["finish_reason"] = _finish_reason(choice["finish_reason"])
            choice["delta"] = delta
            self._held = ""
        return chunk

    def _calls(self, text: str) -> list[dict[str, Any]] | None:
        try:
            parsed = json.loads(text)
        except (ValueError, RecursionError):
            return None
        items = parsed if isinstance(parsed, list) else [parsed]
        if not items or not all(isinstance(item, dict) and isinstance(item.get("name"), str) for item in items):
            return None
        return [
            {"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
             "function": {"name": item["name"], "arguments": json.dumps(item.get("arguments", {}))}}
            for item in items
        ]  # fmt: skip


def constrained_to(payload: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """``payload`` without its tools, its answer held by the engine's grammar to JSON of ``schema``."""
    constrained = {key: value for key, value in payload.items() if key not in ("tools", "tool_choice", "parallel_tool_calls")}
    constrained["response_format"] = {"type": "json_object", "schema": schema}
    return constrained


def _finish_reason(reason: str | None) -> str | None:
    return "tool_calls" if reason in ("stop", None) else reason
