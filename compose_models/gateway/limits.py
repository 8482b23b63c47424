"""Limits per caller: requests per minute (a sliding window, so exactly N are admitted in any minute),
tokens per minute (a token bucket, charged with the tokens an answer used once it is done) and
requests in flight. Every decision is made without awaiting, so concurrent requests cannot race."""

import math
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from compose_models.errors import UserError

WINDOW_SECONDS = 60.0
REQUESTS_VARIABLE = "COMPOSE_MODELS_REQUESTS_PER_MINUTE"
TOKENS_VARIABLE = "COMPOSE_MODELS_TOKENS_PER_MINUTE"
CONCURRENT_VARIABLE = "COMPOSE_MODELS_CONCURRENT_REQUESTS"


@dataclass(frozen=True)
class Limits:
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    concurrent_requests: int | None = None

    @classmethod
    def from_environment(cls) -> "Limits":
        return cls(_positive(REQUESTS_VARIABLE), _positive(TOKENS_VARIABLE), _positive(CONCURRENT_VARIABLE))


def _positive(variable: str) -> int | None:
    text = os.environ.get(variable, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise UserError(f"${variable}: expected a positive whole number, got {text!r}")
    return int(text)


@dataclass(frozen=True)
class Refusal:
    message: str
    retry_after: int  # whole seconds, as Retry-After carries them


@dataclass
class _CallerUsage:
    admitted: deque[float] = field(default_factory=deque)
    tokens: float = 0.0
    tokens_updated: float = 0.0
    in_flight: int = 0


class CallerLimits:
    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._usage: dict[str, _CallerUsage] = {}

    def admit(self, caller: str) -> Refusal | None:
        """Admit one request (and count it) or say why not and when to retry."""
        usage = self._usage_of(caller)
        now = self._clock()
        limits = self.limits
        if limits.concurrent_requests is not None and usage.in_flight >= limits.concurrent_requests:
            return Refusal(f"{caller} has {usage.in_flight} requests in flight, the limit", 1)
        if limits.requests_per_minute is not None:
            while usage.admitted and usage.admitted[0] <= now - WINDOW_SECONDS:
                usage.admitted.popleft()
            if len(usage.admitted) >= limits.requests_per_minute:
                wait = usage.admitted[0] + WINDOW_SECONDS - now
                message = f"{caller} sent {limits.requests_per_minute} requests in the last minute, the limit"
                return Refusal(message, _seconds(wait))
        if limits.tokens_per_minute is not None:
            self._refill(usage, now)
            if usage.tokens <= 0:
                wait = (1 - usage.tokens) * WINDOW_SECONDS / limits.tokens_per_minute
                return Refusal(f"{caller} used its {limits.tokens_per_minute} tokens per minute", _seconds(wait))
        if limits.requests_per_minute is not None:
            usage.admitted.append(now)
        usage.in_flight += 1
        return None

    def release(self, caller: str, tokens: int) -> None:
        """A request admitted by ``admit`` is over; it used ``tokens`` tokens."""
        usage = self._usage_of(caller)
        usage.in_flight -= 1
        if self.limits.tokens_per_minute is not None:
            self._refill(usage, self._clock())
            usage.tokens -= tokens

    def in_flight(self) -> dict[str, int]:
        return {caller: usage.in_flight for caller, usage in self._usage.items() if usage.in_flight}

    def _usage_of(self, caller: str) -> _CallerUsage:
        if caller not in self._usage:
            full_bucket = float(self.limits.tokens_per_minute or 0)
            self._usage[caller] = _CallerUsage(tokens=full_bucket, tokens_updated=self._clock())
        return self._usage[caller]

    def _refill(self, usage: _CallerUsage, now: float) -> None:
        capacity = float(self.limits.tokens_per_minute or 0)
        usage.tokens = min(capacity, usage.tokens + (now - usage.tokens_updated) * capacity / WINDOW_SECONDS)
        usage.tokens_updated = now


def _seconds(wait: float) -> int:
    return max(1, math.ceil(wait))
