"""One request's generation as the HTTP side sees it: text pieces as they come, then why it ended.

The decode thread hands events over through the event loop; a stop string found in the text ends
the job at once (its slot goes back to the queue), and ``cancel`` does the same for a client
that went away.
"""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from compose_models.runner.backends.batched.decoder import Decoder, Event, Finished, Job, Token, piece
from compose_models.runner.backends.batched.model import LoadedModel
from compose_models.runner.backends.batched.sampling import Sampling
from compose_models.runner.backends.batched.text_output import TextOutput


@dataclass
class Usage:
    prompt_tokens: int
    completion_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens whose KV cells were reused, not decoded again

    def as_openai(self) -> dict[str, object]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens},
        }


class Generation:
    def __init__(self, loaded: LoadedModel, decoder: Decoder, prompt: list[int], sampling: Sampling,
                 max_tokens: int, stops: tuple[str, ...], top_logprobs: int | None = None) -> None:  # fmt: skip
        self._loaded = loaded
        self._decoder = decoder
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        self._job = Job(prompt, sampling, max_tokens, lambda event: loop.call_soon_threadsafe(self._events.put_nowait, event),
                        top_logprobs)  # fmt: skip
        self._output = TextOutput(stops)
        self.usage = Usage(prompt_tokens=len(prompt))
        self.finish_reason: str | None = None
        self.failure: Finished | None = None  # why, when it ended with "error"
        self.wants_logprobs = top_logprobs is not None
        self._unsent_logprobs: list[dict[str, Any]] = []

    def take_logprobs(self) -> list[dict[str, Any]]:
        """OpenAI chat ``logprobs.content`` entries of the tokens received since the last call."""
        taken, self._unsent_logprobs = self._unsent_logprobs, []
        return taken

    async def pieces(self) -> AsyncIterator[str]:
        """The generated text in pieces of whole characters; ``finish_reason`` is set once it ends."""
        self._decoder.submit(self._job)
        try:
            while self.finish_reason is None:
                event = await self._events.get()
                if isinstance(event, Token):
                    self.usage.completion_tokens += 1
                    token_bytes = piece(self._loaded.vocab, event.id)
                    if event.logprob is not None:
                        self._unsent_logprobs.append(self._logprob_entry(token_bytes, event))
                    text = self._output.add(token_bytes)
                    if self._output.stopped:
                        self._decoder.cancel(self._job)
                        self.finish_reason = "stop"
                else:
                    text = self._output.finish()
                    self.finish_reason = event.reason
                    self.failure = event if event.reason == "error" else None
                if text:
                    yield text
        finally:
            self.usage.cached_tokens = self._job.reused_tokens
            if self.finish_reason is None:
                self._decoder.cancel(self._job)

    def _logprob_entry(self, token_bytes: bytes, token: Token) -> dict[str, Any]:
        def described(text_bytes: bytes, logprob: float) -> dict[str, Any]:
            return {"token": text_bytes.decode(errors="replace"), "logprob": logprob, "bytes": list(text_bytes)}

        alternatives = [described(piece(self._loaded.vocab, id_), logprob) for id_, logprob in token.top_logprobs]
        return {**described(token_bytes, token.logprob or 0.0), "top_logprobs": alternatives}
