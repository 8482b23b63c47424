"""Tool calls the model chose to make (``tool_choice`` "auto" or absent, with tools offered), found in the
text of an engine that does not parse them itself, and given back as OpenAI ``tool_calls``.

llama-server parses calls itself (its Jinja template handling is on by default), so its answers are
left as they are; so is any answer that already carries ``tool_calls``. The format comes from the
model's chat template (tool_call_format.py); a template without a known format leaves the text alone,
as does a request that offered no tools.
"""

from typing import Any

from compose_models.runner.backends import llama_server
from compose_models.runner.inference.tool_call_format import ToolCallFormat, chat_template_of, tool_call_format
from compose_models.runner.inference.tool_call_parser import Arguments, CallStart, Piece, Text, ToolCallParser

ENGINES_THAT_PARSE_CALLS = (llama_server.NAME,)


class ChosenToolCalls:
    def __init__(self, format: ToolCallFormat) -> None:
        self.format = format
        self._parsers: dict[int, ToolCallParser] = {}  # per choice
        self._engine_parses = False  # the engine sent tool_calls of its own

    @classmethod
    def of(cls, payload: dict[str, Any], model: Any, backend: str) -> "ChosenToolCalls | None":
        """The parser for this request's answer; None when no tools may be called or none need parsing here."""
        if not payload.get("tools") or payload.get("tool_choice", "auto") not in ("auto", "required"):
            return None
        if backend in ENGINES_THAT_PARSE_CALLS:
            return None
        format = tool_call_format(chat_template_of(model))
        return cls(format) if format is not None else None

    def rewrite_answer(self, answer: dict[str, Any]) -> dict[str, Any]:
        for choice in answer.get("choices") or []:
            message = choice.get("message")
            if not isinstance(message, dict) or not isinstance(message.get("content"), str):
                continue
            if message.get("tool_calls"):  # the engine parsed them
                continue
            parser = ToolCallParser(self.format)
            pieces = parser.feed(message["content"]) + parser.finish()
            if not parser.calls:
                continue
            text = "".join(piece.text for piece in pieces if isinstance(piece, Text))
            message["content"] = text or None
            message["tool_calls"] = _whole_calls(pieces)
            choice["finish_reason"] = _finish_reason(choice.get("finish_reason"))
        return answer

    def rewrite_chunk(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        """The chunks to send for one of the engine's: none while text is held back, more than one when
        text and calls alternate within it."""
        choices = chunk.get("choices")
        if self._engine_parses or not isinstance(choices, list) or not choices:
            return [chunk]
        if any((choice.get("delta") or {}).get("tool_calls") for choice in choices):
            self._engine_parses = True
            return [chunk]
        rewritten: list[dict[str, Any]] = []
        for choice in choices:
            rewritten += self._rewrite_choice(chunk, choice)
        return rewritten

    def finish_stream(self, last_chunk: dict[str, Any]) -> list[dict[str, Any]]:
        """What is still held back when a stream ends without saying why (no ``finish_reason``)."""
        chunks: list[dict[str, Any]] = []
        for index, parser in self._parsers.items():
            chunks += _chunks_of(last_chunk, index, parser.finish(), None)
        return chunks

    def _rewrite_choice(self, chunk: dict[str, Any], choice: dict[str, Any]) -> list[dict[str, Any]]:
        index = choice.get("index", 0)
        parser = self._parsers.setdefault(index, ToolCallParser(self.format))
        delta = choice.get("delta") or {}
        content = delta.get("content")
        finish_reason = choice.get("finish_reason")
        if not isinstance(content, str) and not finish_reason:
            return [{**chunk, "choices": [choice]}]
        pieces = parser.feed(content) if isinstance(content, str) else []
        if finish_reason:
            pieces += parser.finish()
            if parser.calls:
                finish_reason = _finish_reason(finish_reason)
        others = {key: value for key, value in delta.items() if key != "content"}
        chunks = _chunks_of({**chunk, "choices": [{**choice, "delta": others}]}, index, pieces, finish_reason)
        if not chunks and (others or finish_reason):  # a role or a reason still has to reach the client
            chunks = [{**chunk, "choices": [{**choice, "delta": others, "finish_reason": finish_reason}]}]
        return chunks


def _chunks_of(
    chunk: dict[str, Any], index: int, pieces: list[Piece], finish_reason: str | None
) -> list[dict[str, Any]]:
    """One chunk per run of text or of call fragments; the finish reason on the last."""
    deltas: list[dict[str, Any]] = []
    for piece in pieces:
        if isinstance(piece, Text):
            deltas.append({"content": piece.text})
            continue
        if isinstance(piece, CallStart):
            call = {"index": piece.index, "id": piece.call_id, "type": "function",
                    "function": {"name": piece.name, "arguments": ""}}  # fmt: skip
        elif deltas and "tool_calls" in deltas[-1] and deltas[-1]["tool_calls"][-1]["index"] == piece.index:
            deltas[-1]["tool_calls"][-1]["function"]["arguments"] += piece.fragment  # the same call, one entry
            continue
        else:
            call = {"index": piece.index, "function": {"arguments": piece.fragment}}
        if deltas and "tool_calls" in deltas[-1]:
            deltas[-1]["tool_calls"].append(call)
        else:
            deltas.append({"tool_calls": [call]})
    template = (chunk.get("choices") or [{}])[0]
    chunks = []
    for position, delta in enumerate(deltas):
        first = template.get("delta") if position == 0 else {}
        reason = finish_reason if position == len(deltas) - 1 else None
        choice = {**template, "index": index, "delta": {**(first or {}), **delta}, "finish_reason": reason}
        chunks.append({**chunk, "choices": [choice]})
    return chunks


def _whole_calls(pieces: list[Piece]) -> list[dict[str, Any]]:
    calls: dict[int, dict[str, Any]] = {}
    for piece in pieces:
        if isinstance(piece, CallStart):
            calls[piece.index] = {"id": piece.call_id, "type": "function",
                                  "function": {"name": piece.name, "arguments": ""}}  # fmt: skip
        elif isinstance(piece, Arguments):
            calls[piece.index]["function"]["arguments"] += piece.fragment
    return [calls[index] for index in sorted(calls)]


def _finish_reason(reason: str | None) -> str | None:
    return "tool_calls" if reason in ("stop", None) else reason
