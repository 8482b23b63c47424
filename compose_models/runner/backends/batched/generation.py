"""One request's generation as the HTTP side sees it: text pieces as they come, then why it ended.

The decode thread hands events over through the event loop; a stop string found in the text ends
the job at once (its slot goes back to the queue), and ``cancel`` does the same for a client
that went away.
"""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from compose_models.runner.backends.batched.decoder import Decoder, Event, Job, Token, piece
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
                 max_tokens: int, stops: tuple[str, ...]) -> None:  # fmt: skip
        self._loaded = loaded
        self._decoder = decoder
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        self._job = Job(prompt, sampling, max_tokens, lambda event: loop.call_soon_threadsafe(self._events.put_nowait, event))
        self._output = TextOutput(stops)
        self.usage = Usage(prompt_tokens=len(prompt))
        self.finish_reason: str | None = None

    async def pieces(self) -> AsyncIterator[str]:
        """The generated text in pieces of whole characters; ``finish_reason`` is set once it ends."""
        self._decoder.submit(self._job)
        try:
            while self.finish_reason is None:
                event = await self._events.get()
                if isinstance(event, Token):
                    self.usage.completion_tokens += 1
                    text = self._output.add(piece(self._loaded.vocab, event.id))
                    if self._output.stopped:
                        self._decoder.cancel(self._job)
                        self.finish_reason = "stop"
                else:
                    text = self._output.finish()
                    self.finish_reason = event.reason
                if text:
                    yield text
        finally:
            self.usage.cached_tokens = self._job.reused_tokens
            if self.finish_reason is None:
                self._decoder.cancel(self._job)
