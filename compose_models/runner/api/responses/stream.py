"""OpenAI chat chunks turned into Responses stream events, as they arrive.

Order: ``response.created``, ``response.in_progress``; then per output item
``response.output_item.added``, for a message ``response.content_part.added``,
``response.output_text.delta``..., ``response.output_text.done``, ``response.content_part.done``, for
a function call ``response.function_call_arguments.delta``..., ``.done`` (for a custom tool's call
one ``response.custom_tool_call_input.delta`` and ``.done``, once its text is whole), for a reasoning
model's thoughts ``response.reasoning_text.delta``..., ``.done``; ``response.output_item.done``; and
last ``response.completed`` (or ``response.incomplete`` when the answer was cut short: by
``max_output_tokens``, as OpenAI does, or by a full context window, which ``incomplete_details.reason``
tells apart as ``model_context_window_exceeded``, the name Anthropic gives it). Every event carries
its ``sequence_number``. The same translator accumulates the whole Response for requests that did not
ask for a stream.
"""

import time
from typing import Any

from compose_models.runner.api.responses.tools import EngineTools, custom_input
from compose_models.runner.api.responses.translation import item_id

Event = dict[str, Any]
CONTEXT_FULL = "model_context_window_exceeded"


class ResponsesStream:
    def __init__(self, response_id: str, echoed: dict[str, Any], tools: EngineTools | None = None) -> None:
        self.response_id = response_id
        self.echoed = echoed
        self.tools = tools or EngineTools()
        self.created_at = int(time.time())
        self.output: list[dict[str, Any]] = []  # the items so far
        self._open: str | None = None  # the open item: "reasoning", "text" or "tool:<index>"
        self._sequence = 0
        self._finish_reason: str | None = None
        self._custom_arguments = ""  # the open custom tool call's arguments so far
        self._usage: dict[str, Any] | None = None
        self._incomplete_reason = "max_output_tokens"

    @property
    def incomplete(self) -> bool:
        return self._finish_reason == "length"

    def start(self) -> list[Event]:
        snapshot = self.response(status="in_progress")
        return [self._event("response.created", response=snapshot), self._event("response.in_progress", response=snapshot)]

    def feed(self, chunk: dict[str, Any]) -> list[Event]:
        events: list[Event] = []
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            if delta.get("reasoning_content"):
                events += self._reasoning(delta["reasoning_content"])
            if delta.get("content"):
                events += self._text(delta["content"])
            for call in delta.get("tool_calls") or []:
                events += self._tool_call(call)
            if choice.get("finish_reason"):
                self._finish_reason = choice["finish_reason"]
        return events

    def finish(self, input_tokens: int, output_tokens: int) -> list[Event]:
        events = self._close()
        self._usage = {
            "input_tokens": input_tokens, "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": output_tokens, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": input_tokens + output_tokens,
        }  # fmt: skip
        limit = self.echoed.get("max_output_tokens")
        if self.incomplete and (limit is None or output_tokens < limit):
            # Cut short, but not by the client's limit: the context window is full (llama-server stops
            # there, with "length", once prompt and answer fill it).
            self._incomplete_reason = CONTEXT_FULL
        final = self.response()
        return events + [self._event(f"response.{final['status']}", response=final)]

    def response(self, status: str | None = None) -> dict[str, Any]:
        """The Response object: as it stands (``status`` given), or finished (after ``finish``)."""
        status = status or ("incomplete" if self.incomplete else "completed")
        return {
            "id": self.response_id, "object": "response", "created_at": self.created_at, "status": status,
            "error": None,
            "incomplete_details": {"reason": self._incomplete_reason} if status == "incomplete" else None,
            **self.echoed,
            "output": [dict(item) for item in self.output] if status != "in_progress" else [],
            "usage": self._usage if status != "in_progress" else None,
        }  # fmt: skip

    def error(self, message: str, code: str | None = None) -> Event:
        return self._event("error", code=code, message=message, param=None)

    def _text(self, text: str) -> list[Event]:
        events: list[Event] = []
        if self._open != "text":
            events += self._close()
            self._open = "text"
            item: dict[str, Any] = {"id": item_id("msg"), "type": "message", "status": "in_progress", "role": "assistant", "content": []}
            self.output.append(item)
            events.append(self._event("response.output_item.added", output_index=self._index, item=dict(item, content=[])))
            item["content"].append({"type": "output_text", "text": "", "annotations": [], "logprobs": []})
            events.append(self._event("response.content_part.added", item_id=item["id"], output_index=self._index,
                                      content_index=0, part=_text_part("")))  # fmt: skip
        item = self.output[-1]
        item["content"][0]["text"] += text
        events.append(self._event("response.output_text.delta", item_id=item["id"], output_index=self._index,
                                  content_index=0, delta=text, logprobs=[]))  # fmt: skip
        return events

    def _reasoning(self, text: str) -> list[Event]:
        """What a reasoning model thinks before it answers (llama-server's ``reasoning_content``)."""
        events: list[Event] = []
        if self._open != "reasoning":
            events += self._close()
            self._open = "reasoning"
            item: dict[str, Any] = {"id": item_id("rs"), "type": "reasoning", "status": "in_progress", "summary": [], "content": []}
            self.output.append(item)
            events.append(self._event("response.output_item.added", output_index=self._index, item=dict(item, content=[])))
            item["content"].append({"type": "reasoning_text", "text": ""})
        item = self.output[-1]
        item["content"][0]["text"] += text
        events.append(self._event("response.reasoning_text.delta", item_id=item["id"], output_index=self._index,
                                  content_index=0, delta=text))  # fmt: skip
        return events

    def _tool_call(self, call: dict[str, Any]) -> list[Event]:
        events: list[Event] = []
        kind = f"tool:{call.get('index', 0)}"
        function = call.get("function") or {}
        if self._open != kind:
            events += self._close()
            self._open = kind
            name = self.tools.call_fields(function.get("name") or "")
            call_id = call.get("id") or item_id("call")
            if name.custom:
                item = {"id": item_id("ctc"), "type": "custom_tool_call", "status": "in_progress", "call_id": call_id,
                        "name": name.name, "input": ""}  # fmt: skip
                self._custom_arguments = ""
            else:
                item = {"id": item_id("fc"), "type": "function_call", "status": "in_progress", "call_id": call_id,
                        "name": name.name, **({"namespace": name.namespace} if name.namespace else {}), "arguments": ""}  # fmt: skip
            self.output.append(item)
            events.append(self._event("response.output_item.added", output_index=self._index, item=dict(item)))
        item = self.output[-1]
        arguments = function.get("arguments") or ""
        if arguments and item["type"] == "custom_tool_call":
            self._custom_arguments += arguments  # JSON around the text, whose text is known once whole
        elif arguments:
            item["arguments"] += arguments
            events.append(self._event("response.function_call_arguments.delta", item_id=item["id"],
                                      output_index=self._index, delta=arguments))  # fmt: skip
        return events

    def _close(self) -> list[Event]:
        if self._open is None:
            return []
        item = self.output[-1]
        self._open = None
        item["status"] = "incomplete" if self.incomplete else "completed"
        events: list[Event] = []
        if item["type"] == "reasoning":
            events.append(self._event("response.reasoning_text.done", item_id=item["id"], output_index=self._index,
                                      content_index=0, text=item["content"][0]["text"]))  # fmt: skip
        elif item["type"] == "message":
            text = item["content"][0]["text"]
            events.append(self._event("response.output_text.done", item_id=item["id"], output_index=self._index,
                                      content_index=0, text=text, logprobs=[]))  # fmt: skip
            events.append(self._event("response.content_part.done", item_id=item["id"], output_index=self._index,
                                      content_index=0, part=_text_part(text)))  # fmt: skip
        elif item["type"] == "custom_tool_call":
            item["input"] = custom_input(self._custom_arguments)
            events.append(self._event("response.custom_tool_call_input.delta", item_id=item["id"],
                                      output_index=self._index, delta=item["input"]))  # fmt: skip
            events.append(self._event("response.custom_tool_call_input.done", item_id=item["id"],
                                      output_index=self._index, input=item["input"]))  # fmt: skip
        else:
            events.append(self._event("response.function_call_arguments.done", item_id=item["id"],
                                      output_index=self._index, name=item["name"], arguments=item["arguments"]))  # fmt: skip
        events.append(self._event("response.output_item.done", output_index=self._index, item=dict(item)))
        return events

    @property
    def _index(self) -> int:
        return len(self.output) - 1

    def _event(self, kind: str, **fields: Any) -> Event:
        event = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return event


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
