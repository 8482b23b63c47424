"""An engine's (or upstream's) answer being read and relayed: whole, as parsed frames, or as the stream's
own bytes; the token usage and time to first token observed on the way."""

import contextlib
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from starlette.requests import Request

from compose_models.runner.http.capped_read import ERROR_BYTES, AnswerTooLarge, read_capped
from compose_models.runner.http.errors import ApiError
from compose_models.runner.http.exchange import exchange_of
from compose_models.runner.http.streams import FrameTooLarge, SseFrame, data_frame, split_blocks, split_frames, tokens_in
from compose_models.runner.inference.engine_client import EngineResponse
from compose_models.runner.inference.target import Endpoint, ResolvedCall
from compose_models.runner.observability.metrics import RunnerMetrics
from compose_models.runner.observability.usage import Usage
from compose_models.runner.services import services_of

T = TypeVar("T")

MAX_TEMPLATED_BYTES = 64 * 1024 * 1024  # a templated prompt: the request (at most 10 MiB) in a template, escaped
TOKEN_BYTES = 12  # the most one token id takes in /tokenize's answer ("1234567," and its space)


@dataclass
class Timings:
    """Monotonic clock readings of one call, for metrics and Ollama's durations."""

    started: float
    engine_ready: float = 0.0
    first_token: float | None = None


class EngineCall:
    """An engine's answer being read; holds the engine until ``close``."""

    def __init__(self, request: Request, call: ResolvedCall, stack: contextlib.AsyncExitStack,
                 response: httpx.Response | EngineResponse, timings: Timings) -> None:
        self._request = request
        self._call = call
        self._stack = stack
        self.response = response
        self.timings = timings
        self.usage = Usage()
        self.model = call.target.label
        self._answer: dict[str, Any] | None = None
        self._closed = False
        self.max_tokens_clamped: int | None = None  # the max_tokens sent, when the client's did not fit

    @property
    def context_size(self) -> int | None:
        return self._call.target.context_size

    async def context_full(self, finish_reason: str | None) -> bool:
        """Whether an answer that ended with ``finish_reason`` stopped because the context was full: it
        ended for length and the prompt and answer fill the context (within the one token an engine keeps
        back), which is also the case when ``max_tokens`` was clamped to what was left."""
        if finish_reason != "length" or not self.context_size:
            return False
        prompt = await self.prompt_tokens()
        return prompt > 0 and prompt + self.usage.completion + 1 >= self.context_size

    @property
    def is_stream(self) -> bool:
        return "text/event-stream" in self.response.headers.get("content-type", "")

    async def body(self) -> bytes:
        limit = self._call.target.answer_limit
        try:
            content = await (read_capped(self.response, limit) if limit is not None else self.response.aread())
        except httpx.TransportError as error:
            raise await self._call.target.transport_failure(error) from None
        except AnswerTooLarge as error:
            raise ApiError(502, f"{self._call.target.describe()}: {error}; it was dropped") from None
        try:
            answer = json.loads(content)
        except (ValueError, RecursionError):
            return content
        if isinstance(answer, dict) and self._call.forced:
            answer = self._call.forced.rewrite_answer(answer)
            content = json.dumps(answer).encode()
        elif isinstance(answer, dict) and self._call.chosen:
            answer = self._call.chosen.rewrite_answer(answer)
            content = json.dumps(answer).encode()
        self.usage.observe(answer)
        self._answer = answer if isinstance(answer, dict) else None
        return content

    async def json(self) -> dict[str, Any]:
        await self.body()
        if self._answer is None:
            raise ApiError(502, "the engine's answer is not a JSON object")
        return self._answer

    async def frames(self) -> AsyncIterator[SseFrame]:
        """The stream's frames as they arrive; an engine that dies mid-stream raises ApiError(502)."""
        try:
            last_chunk: dict[str, Any] = {}
            async for frame in split_frames(self.response.aiter_raw()):
                self.usage.observe(frame.payload)
                self._see_first_token()
                if isinstance(frame.payload, dict):
                    last_chunk = frame.payload
                    for rewritten in self._rewritten(frame):
                        yield rewritten
                    continue
                if frame.is_done and self._call.chosen:
                    for chunk in self._call.chosen.finish_stream(last_chunk):
                        yield SseFrame(data_frame(chunk), json.dumps(chunk))
                yield frame
        except httpx.TransportError as error:
            raise await self._call.target.transport_failure(error) from None
        except FrameTooLarge as error:
            raise ApiError(502, f"{self._call.target.describe()}: {error}; the stream was dropped") from None

    async def relayed(self) -> AsyncGenerator[bytes | SseFrame, None]:
        """The stream for relaying as it is: each read's whole frames as bytes, except the frames that may
        need a change (usage, tool calls, an error, the end), parsed in their place. A stream whose every
        chunk is rewritten (tool calls the runner forces or finds), or with several choices, comes as
        frames(). Usage and the first token are observed as in frames()."""
        if self._call.rewrites_chunks or self._call.payload.get("n", 1) != 1:
            async for frame in self.frames():
                yield frame
            return
        try:
            async for item in split_blocks(self.response.aiter_raw()):
                if isinstance(item, bytes):
                    self.usage.counted_chunks += tokens_in(item)
                else:
                    self.usage.observe(item.payload)
                self._see_first_token()
                yield item
        except httpx.TransportError as error:
            raise await self._call.target.transport_failure(error) from None
        except FrameTooLarge as error:
            raise ApiError(502, f"{self._call.target.describe()}: {error}; the stream was dropped") from None

    def _see_first_token(self) -> None:
        if self.timings.first_token is None and self.usage.counted_chunks:
            self.timings.first_token = time.monotonic()
            self._metrics().first_token(self.model, self.timings.first_token - self.timings.started)

    def _rewritten(self, frame: SseFrame) -> list[SseFrame]:
        """The frames to pass on for one of the engine's chunks, with tool calls put in OpenAI's form."""
        if self._call.forced:
            chunks = [self._call.forced.rewrite_chunk(frame.payload)]
        elif self._call.chosen:
            chunks = self._call.chosen.rewrite_chunk(frame.payload)
        else:
            return [frame]
        return [SseFrame(data_frame(chunk), json.dumps(chunk)) for chunk in chunks]

    async def chunks(self) -> AsyncIterator[dict[str, Any]]:
        """The parsed JSON chunks of the stream, up to ``[DONE]``."""
        async for frame in self.frames():
            if isinstance(frame.payload, dict):
                yield frame.payload

    async def prompt_tokens(self) -> int:
        """The prompt's token count: reported by the engine, or asked of it with a one-token request."""
        if self.usage.prompt_tokens is None:
            self.usage.prompt_tokens = await _count_tokens(self._request, self._call)
        return self.usage.prompt_tokens

    async def read_whole(self, work: Awaitable[T]) -> T:
        """Await ``work`` (reading a whole answer), then release the engine."""
        try:
            return await work
        finally:
            await self.close()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self.response.aclose()
        finally:
            await self._stack.aclose()
            exchange = exchange_of(self._request.scope)
            if exchange is not None:  # the tap meters the request with what the engine counted
                exchange.outcome.engine_usage = (self.usage.prompt_tokens, self.usage.completion)

    def _metrics(self) -> RunnerMetrics:
        return services_of(self._request).metrics


async def _count_tokens(request: Request, call: ResolvedCall) -> int:
    """The prompt tokens of ``call``, asked of its target; 0 when it does not say or cannot be reached."""
    try:
        return await probe_tokens(request, call.target, call.path, call.payload)
    except httpx.HTTPError:
        return 0


async def tokenized_prompt(request: Request, engine: Endpoint, payload: dict[str, Any], limit: int) -> int:
    """The prompt tokens of a chat ``payload`` as llama-server counts them for the request itself, with two
    requests that compute nothing instead of a one-token answer: ``/apply-template`` parses the payload as its
    chat completions do (template, tools, its flags) and gives the prompt's text, which ``/tokenize`` then
    tokenizes as they do (the model's BOS added, special tokens parsed). Not for a request with images, whose
    tokens are not in the text. 0 when the engine does not say, or when the prompt has more than ``limit``
    tokens (then the one-token request counts it); a failed connection raises."""
    http = services_of(request).http
    templated = await _post_json(http, f"{engine.base_url}/apply-template", payload, engine.auth_headers, MAX_TEMPLATED_BYTES)
    prompt = templated.get("prompt") if templated else None
    if not isinstance(prompt, str):
        return 0
    tokenize = {"content": prompt, "add_special": True, "parse_special": True}
    tokenized = await _post_json(http, f"{engine.base_url}/tokenize", tokenize, engine.auth_headers, TOKEN_BYTES * limit + 64)
    tokens = tokenized.get("tokens") if tokenized else None
    return len(tokens) if isinstance(tokens, list) else 0


async def _post_json(http: httpx.AsyncClient, url: str, payload: dict[str, Any], headers: dict[str, str], limit: int) -> dict[str, Any] | None:
    """The JSON object a POST answered with, read up to ``limit`` bytes; None for anything else."""
    async with http.stream("POST", url, json=payload, headers=headers) as response:
        if response.status_code != 200:
            return None
        try:
            answer = json.loads(await read_capped(response, limit))
        except (AnswerTooLarge, ValueError, RecursionError):
            return None
    return answer if isinstance(answer, dict) else None


async def probe_tokens(request: Request, engine: Endpoint, path: str, payload: dict[str, Any]) -> int:
    """The prompt tokens of ``payload``, from a one-token request (llama-server keeps the prompt cached, so the
    real request that follows does not compute it again); 0 when the engine does not say. A failed connection
    raises."""
    probe = {key: value for key, value in payload.items() if key not in ("stream", "stream_options")}
    probe.update(max_tokens=1, n=1)
    url = f"{engine.base_url}{path}"
    http = services_of(request).http
    async with http.stream("POST", url, json=probe, headers=engine.auth_headers) as response:
        try:
            answer = json.loads(await read_capped(response, ERROR_BYTES))
        except (AnswerTooLarge, ValueError, RecursionError):
            return 0
    try:
        return int(answer["usage"]["prompt_tokens"])
    except (KeyError, TypeError):
        return 0
