"""The load ``compose-models bench`` sends: streamed chat completions at a number of concurrent streams,
timed client side (time to first token, whole request, tokens the engine counted).

Each level sends its requests through ``concurrency`` workers that take them one after another, so
exactly that many streams are open until the last requests. Every request's prompt begins with a mark of
its own (the run, the target, the level, its number), so no engine answers it from the cached prompt of an
earlier one: the runner and the engine straight, measured in turns, pay the same prefill. Tokens are the engine's own count
(``usage.completion_tokens``, asked for with ``stream_options.include_usage``), or the content chunks
received when an engine reports none.
"""

import asyncio
import json
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

PROMPT = "Write a long story about a lighthouse keeper who finds a message in a bottle."
RUN = secrets.token_hex(4)  # this run's mark, in every prompt
_ERROR_TEXT = 300  # characters of an error answer kept for the report


@dataclass(frozen=True)
class Target:
    """Where requests go: the runner's OpenAI API, or an engine straight (``direct``)."""

    name: str  # "runner" or "direct"
    url: str  # ending in /v1
    model: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Outcome:
    tokens: int = 0
    first_token: float | None = None  # seconds from sending to the first content
    seconds: float = 0.0  # sending to the end of the answer
    error: str | None = None


@dataclass
class Level:
    target: str
    concurrency: int
    outcomes: list[Outcome]
    seconds: float  # wall time of the whole level

    @property
    def failed(self) -> int:
        return sum(1 for outcome in self.outcomes if outcome.error)

    def as_json(self) -> dict[str, object]:
        done = [outcome for outcome in self.outcomes if not outcome.error]
        tokens = sum(outcome.tokens for outcome in done)
        first = [outcome.first_token * 1000 for outcome in done if outcome.first_token is not None]
        latency = [outcome.seconds * 1000 for outcome in done]
        stream_rates = [
            (outcome.tokens - 1) / (outcome.seconds - outcome.first_token)
            for outcome in done
            if outcome.first_token is not None and outcome.tokens > 1 and outcome.seconds > outcome.first_token
        ]
        return {
            "target": self.target,
            "concurrency": self.concurrency,
            "requests": len(self.outcomes),
            "failed": self.failed,
            "completion_tokens": tokens,
            "seconds": round(self.seconds, 3),
            "tokens_per_second": round(tokens / self.seconds, 2) if self.seconds > 0 else 0.0,
            "stream_tokens_per_second_p50": _rounded(percentile(stream_rates, 0.50)),
            "ttft_ms_p50": _rounded(percentile(first, 0.50)),
            "ttft_ms_p95": _rounded(percentile(first, 0.95)),
            "latency_ms_p50": _rounded(percentile(latency, 0.50)),
            "latency_ms_p95": _rounded(percentile(latency, 0.95)),
        }


def percentile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between the closest ranks (numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


async def _one(client: httpx.AsyncClient, target: Target, max_tokens: int, mark: str) -> Outcome:
    content = f"({RUN} {mark}) {PROMPT}"
    body = {
        "model": target.model, "messages": [{"role": "user", "content": content}], "max_tokens": max_tokens,
        "temperature": 0, "stream": True, "stream_options": {"include_usage": True},
    }  # fmt: skip
    outcome = Outcome()
    chunks = 0
    started = time.perf_counter()
    try:
        async with client.stream("POST", f"{target.url}/chat/completions", json=body, headers=target.headers) as response:
            if response.status_code != 200:
                text = (await response.aread()).decode(errors="replace").strip()
                outcome.error = f"HTTP {response.status_code}: {text[:_ERROR_TEXT]}"
                return outcome
            async for line in response.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                event = json.loads(line[6:])
                if "error" in event:
                    outcome.error = f"error in the stream: {json.dumps(event['error'])[:_ERROR_TEXT]}"
                    return outcome
                usage = event.get("usage")
                if usage and usage.get("completion_tokens") is not None:
                    outcome.tokens = int(usage["completion_tokens"])
                for choice in event.get("choices") or ():
                    if (choice.get("delta") or {}).get("content"):
                        chunks += 1
                        if outcome.first_token is None:
                            outcome.first_token = time.perf_counter() - started
    except (httpx.HTTPError, ValueError) as error:
        outcome.error = f"{type(error).__name__}: {error}"[:_ERROR_TEXT]
        return outcome
    outcome.seconds = time.perf_counter() - started
    outcome.tokens = outcome.tokens or chunks
    if outcome.tokens == 0:
        outcome.error = "the answer had no tokens"
    return outcome


async def run_level(target: Target, concurrency: int, requests: int, max_tokens: int,
                    advance: Callable[[], None] = lambda: None) -> Level:  # fmt: skip
    """``requests`` streamed completions, ``concurrency`` at a time; ``advance`` is called after each."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(requests):
        queue.put_nowait(index)
    outcomes: list[Outcome] = []
    # A connection per request: a kept-alive one that the server closes as it is reused would count as a
    # failed request, and a loopback connection costs well under a millisecond.
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=httpx.Timeout(600.0, connect=10.0), limits=limits, trust_env=False) as client:

        async def worker() -> None:
            while not queue.empty():
                index = queue.get_nowait()
                outcomes.append(await _one(client, target, max_tokens, f"{target.name} {concurrency}-{index}"))
                advance()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return Level(target.name, concurrency, outcomes, seconds)


async def warm_up(target: Target) -> str | None:
    """One short request, so that loading the model is not measured; the error, if it failed."""
    async with httpx.AsyncClient(timeout=httpx.Timeout(600.0, connect=10.0), trust_env=False) as client:
        return (await _one(client, target, 4, "warm-up")).error
