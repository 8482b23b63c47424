"""Making every engine honour "call this function" (``tool_choice`` naming a function, or ``required``
with a single tool; several tools: required_tool_calls.py).

Engines differ: llama-cpp-python forces only a named function, llama-server takes only strings and,
for a chat template without tools, forces nothing. So the runner asks the engine for JSON that matches
the function's parameters (a grammar every engine enforces) and hands that JSON back as the call's
arguments, in whole answers and in streams alike.
"""

import uuid
from typing import Any

from compose_models.runner.inference.required_tool_calls import RequiredToolCalls, constrained_to


class ForcedToolCall:
    def __init__(self, name: str) -> None:
        self.name = name
        self.call_id = f"call_{uuid.uuid4().hex[:24]}"
        self._announced = False

    @classmethod
    def of(cls, payload: dict[str, Any]) -> tuple[dict[str, Any], "ForcedToolCall | RequiredToolCalls | None"]:
        """The payload to send, and the forced call to rebuild from the answer (None if nothing is forced)."""
        tools = [tool for tool in payload.get("tools") or [] if isinstance(tool, dict) and tool.get("function")]
        choice = payload.get("tool_choice")
        if isinstance(choice, dict):
            name = (choice.get("function") or {}).get("name")
        elif choice == "required" and len(tools) == 1 and payload.get("parallel_tool_calls") is not True:
            name = tools[0]["function"].get("name")
        elif choice == "required" and tools:
            functions = [tool["function"] for tool in tools if isinstance(tool["function"].get("name"), str)]
            return RequiredToolCalls.of(payload, functions) if functions else (payload, None)
        else:
            return payload, None
        function = next((tool["function"] for tool in tools if tool["function"].get("name") == name), None)
        if function is None or not isinstance(name, str):
            return payload, None
        return constrained_to(payload, function.get("parameters") or {"type": "object"}), cls(name)

    def rewrite_answer(self, answer: dict[str, Any]) -> dict[str, Any]:
        for choice in answer.get("choices") or []:
            message = choice.get("message") or {}
            message["tool_calls"] = [self._call(message.pop("content", "") or "", whole=True)]
            message["content"] = None
            choice["finish_reason"] = _finish_reason(choice.get("finish_reason"))
        return answer

    def rewrite_chunk(self, chunk: dict[str, Any]) -> dict[str, Any]:
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            content = delta.pop("content", None)
            if content:
                delta["tool_calls"] = [self._call(content, whole=not self._announced)]
                self._announced = True
            if choice.get("finish_reason"):
                choice["finish_reason"] = _finish_reason(choice["finish_reason"])
        return chunk

    def _call(self, arguments: str, whole: bool) -> dict[str, Any]:
        """A call, or (in a stream, after the first) a fragment that only carries more arguments."""
        if not whole:
            return {"index": 0, "function": {"arguments": arguments}}
        return {"index": 0, "id": self.call_id, "type": "function", "function": {"name": self.name, "arguments": arguments}}


def _finish_reason(reason: str | None) -> str | None:
    return "tool_calls" if reason == "stop" else reason
