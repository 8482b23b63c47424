"""Token usage of one engine answer, taken from the engine when it reports it and counted otherwise.

llama-cpp-python's server sends no ``usage`` in streams (llama-server does when asked), so for a
stream the completion tokens are counted one per content-bearing chunk and the prompt tokens, when
needed, are asked of the engine afterwards (see ``EngineCall.prompt_tokens``).
"""

from dataclasses import dataclass
from typing import Any


@dataclass
class Usage:
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    counted_chunks: int = 0

    @property
    def completion(self) -> int:
        return self.completion_tokens if self.completion_tokens is not None else self.counted_chunks

    def observe(self, chunk: Any) -> None:
        """Take in one response body or stream chunk of an OpenAI-shaped answer."""
        if not isinstance(chunk, dict):
            return
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            if isinstance(usage.get("prompt_tokens"), int):
                self.prompt_tokens = usage["prompt_tokens"]
            if isinstance(usage.get("completion_tokens"), int):
                self.completion_tokens = usage["completion_tokens"]
        if chunk.get("object") in ("chat.completion.chunk", "text_completion") and _carries_token(chunk):
            self.counted_chunks += 1

    def openai_usage(self) -> dict[str, int]:
        prompt = self.prompt_tokens or 0
        return {"prompt_tokens": prompt, "completion_tokens": self.completion, "total_tokens": prompt + self.completion}


def _carries_token(chunk: dict[str, Any]) -> bool:
    for choice in chunk.get("choices") or []:
        delta = choice.get("delta") or {}
        if choice.get("text") or delta.get("content") or delta.get("reasoning_content"):
            return True
        if any((call.get("function") or {}).get("arguments") for call in delta.get("tool_calls") or []):
            return True
    return False
