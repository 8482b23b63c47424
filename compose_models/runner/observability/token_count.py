"""Prompt and completion tokens of an answer, read from the bytes as they pass to the caller: OpenAI
``usage`` (or one token per content chunk of a stream without it), Anthropic ``usage`` (in
``message_start`` and ``message_delta`` when streamed), Ollama ``prompt_eval_count``/``eval_count``.

The tap counts this way only in front of a remote runner (the gateway's proxy); the runner's own engine
calls report what the engine counted. An OpenAI stream tells its prompt tokens only when the client
asked for usage (``stream_options``), as OpenAI's does; the proxy does not rewrite requests to learn
it, so then the prompt tokens are unknown."""

import json
from typing import Any

from compose_models.runner.observability.usage import Usage

JSON_BYTES_KEPT = 4 * 1024 * 1024


class TokenCount:
    def __init__(self, content_type: str = "") -> None:
        self._streamed = False
        self.expect(content_type)
        self._pending = bytearray()
        self._openai = Usage()
        self._prompt: int | None = None
        self._completion: int | None = None

    @property
    def prompt_tokens(self) -> int | None:
        self._finish()
        return self._prompt if self._prompt is not None else self._openai.prompt_tokens

    @property
    def completion_tokens(self) -> int:
        self._finish()
        return self._completion if self._completion is not None else self._openai.completion

    def expect(self, content_type: str) -> None:
        """The answer's content type, once its headers are known: a stream is read line by line."""
        self._streamed = "event-stream" in content_type or "ndjson" in content_type

    def feed(self, chunk: bytes) -> None:
        if not self._streamed:
            if len(self._pending) < JSON_BYTES_KEPT:
                self._pending.extend(chunk)
            return
        self._pending.extend(chunk)
        *lines, rest = self._pending.split(b"\n")
        self._pending = bytearray(rest)
        for line in lines:
            self._read_line(line.strip())

    def _finish(self) -> None:
        if self._pending:
            pending, self._pending = bytes(self._pending), bytearray()
            if self._streamed:
                self._read_line(pending.strip())
            else:
                self._observe(_json(pending))

    def _read_line(self, line: bytes | bytearray) -> None:
        if line.startswith(b"data:"):
            line = line[5:].strip()
        if line.startswith(b"{"):
            self._observe(_json(line))

    def _observe(self, document: Any) -> None:
        if not isinstance(document, dict):
            return
        self._openai.observe(document)
        if isinstance(document.get("message"), dict):  # Anthropic message_start
            self._anthropic(document["message"].get("usage"))
        self._anthropic(document.get("usage"))
        if isinstance(document.get("prompt_eval_count"), int):
            self._prompt = document["prompt_eval_count"]
        if isinstance(document.get("eval_count"), int):
            self._completion = document["eval_count"]

    def _anthropic(self, usage: Any) -> None:
        if not isinstance(usage, dict):
            return
        if isinstance(usage.get("input_tokens"), int):
            self._prompt = usage["input_tokens"]
        if isinstance(usage.get("output_tokens"), int):
            self._completion = usage["output_tokens"]


def _json(data: bytes | bytearray) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None
