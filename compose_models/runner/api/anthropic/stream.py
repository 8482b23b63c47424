"""OpenAI chat chunks turned into Anthropic Messages stream events, as they arrive.

Order: ``message_start``, ``ping``, then per content block ``content_block_start``,
``content_block_delta``..., ``content_block_stop``, then ``message_delta`` (stop reason, usage) and
``message_stop``. The same translator accumulates the whole message for non-streamed requests.
"""

import json
import uuid
from typing import Any

from compose_models.runner.api.anthropic.translation import CONTEXT_FULL, STOP_REASONS
from compose_models.runner.inference.stop_sequences import StopSequenceWatch

Event = tuple[str, dict[str, Any]]


class AnthropicStream:
    def __init__(self, model: str, stop_sequences: list[str]) -> None:
        self.model = model
        self.message_id = f"msg_{uuid.uuid4().hex[:24]}"
        self.blocks: list[dict[str, Any]] = []  # the message content so far; tool inputs as JSON text
        self._open: str | None = None  # kind of the open block: "text", "thinking" or "tool:<index>"
        self._watch = StopSequenceWatch(stop_sequences)
        self._finish_reason: str | None = None
        self.context_full = False  # set before ``finish`` when the answer ended because the context was full

    @property
    def stopped_by_sequence(self) -> bool:
        return self._watch.matched is not None

    @property
    def finish_reason(self) -> str | None:
        """The engine's OpenAI ``finish_reason``, once its last chunk has come."""
        return self._finish_reason

    def start(self, input_tokens: int) -> list[Event]:
        message: dict[str, Any] = {
            "id": self.message_id, "type": "message", "role": "assistant", "model": self.model, "content": [],
            "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": 0},
        }
        return [("message_start", {"type": "message_start", "message": message}), ("ping", {"type": "ping"})]

    def feed(self, chunk: dict[str, Any]) -> list[Event]:
        events: list[Event] = []
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            if delta.get("reasoning_content"):
                events += self._delta("thinking", {"type": "thinking", "thinking": "", "signature": ""},
                                      {"type": "thinking_delta", "thinking": delta["reasoning_content"]})
            if delta.get("content"):
                text = self._watch.feed(delta["content"])
                if text:
                    events += self._text(text)
            for call in delta.get("tool_calls") or []:
                events += self._tool_call(call)
            if choice.get("finish_reason"):
                self._finish_reason = choice["finish_reason"]
        return events

    def finish(self, input_tokens: int, output_tokens: int) -> list[Event]:
        held = "" if self.stopped_by_sequence else self._watch.flush()
        events = self._text(held) if held else []
        events += self._close()
        delta = {"stop_reason": self.stop_reason, "stop_sequence": self._watch.matched}
        usage = {"input_tokens": input_tokens, "output_tokens": output_tokens}
        return events + [
            ("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}),
            ("message_stop", {"type": "message_stop"}),
        ]

    @property
    def stop_reason(self) -> str:
        if self.stopped_by_sequence:
            return "stop_sequence"
        if self.context_full:
            return CONTEXT_FULL
        return STOP_REASONS.get(self._finish_reason or "stop", "end_turn")

    def message(self, input_tokens: int, output_tokens: int) -> dict[str, Any]:
        """The whole message, for a request that did not ask for a stream (call after ``finish``)."""
        content = [_finished_block(block) for block in self.blocks]
        return {
            "id": self.message_id, "type": "message", "role": "assistant", "model": self.model, "content": content,
            "stop_reason": self.stop_reason, "stop_sequence": self._watch.matched,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
        }

    def _text(self, text: str) -> list[Event]:
        return self._delta("text", {"type": "text", "text": ""}, {"type": "text_delta", "text": text})

    def _tool_call(self, call: dict[str, Any]) -> list[Event]:
        kind = f"tool:{call.get('index', 0)}"
        function = call.get("function") or {}
        block = {"type": "tool_use", "id": call.get("id") or f"toolu_{uuid.uuid4().hex[:24]}",
                 "name": function.get("name", ""), "input": {}}
        arguments = function.get("arguments") or ""
        if kind == self._open and not arguments:
            return []
        events = self._open_block(kind, block)
        if arguments:
            self.blocks[-1]["input_json"] += arguments
            events.append(self._block_delta({"type": "input_json_delta", "partial_json": arguments}))
        return events

    def _delta(self, kind: str, block: dict[str, Any], delta: dict[str, Any]) -> list[Event]:
        events = self._open_block(kind, block)
        field = "thinking" if kind == "thinking" else "text"
        self.blocks[-1][field] += delta[field]
        return events + [self._block_delta(delta)]

    def _open_block(self, kind: str, block: dict[str, Any]) -> list[Event]:
        if kind == self._open:
            return []
        events = self._close()
        self._open = kind
        self.blocks.append({**block, "input_json": ""} if block["type"] == "tool_use" else dict(block))
        events.append(("content_block_start", {"type": "content_block_start", "index": len(self.blocks) - 1,
                                               "content_block": block}))
        return events

    def _block_delta(self, delta: dict[str, Any]) -> Event:
        return ("content_block_delta", {"type": "content_block_delta", "index": len(self.blocks) - 1, "delta": delta})

    def _close(self) -> list[Event]:
        if self._open is None:
            return []
        self._open = None
        return [("content_block_stop", {"type": "content_block_stop", "index": len(self.blocks) - 1})]


def _finished_block(block: dict[str, Any]) -> dict[str, Any]:
    if block["type"] != "tool_use":
        return block
    finished = {key: value for key, value in block.items() if key != "input_json"}
    try:
        finished["input"] = json.loads(block["input_json"] or "{}")
    except (ValueError, RecursionError):  # the model's JSON, as deep as it wrote it
        finished["input"] = {}
    return finished
