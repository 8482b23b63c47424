"""What the dashboard shows of the gateway's own traffic: recent requests (with the start of their
bodies, for inspection) and tokens per caller per minute over the last hour."""

import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from compose_models.gateway.request_log import RequestEntry

RECENT = 100
MINUTES = 60
INSPECTED_BYTES = 16 * 1024


@dataclass(frozen=True)
class Exchange:
    entry: RequestEntry
    request: str
    response: str


class Activity:
    def __init__(self) -> None:
        self._recent: deque[Exchange] = deque(maxlen=RECENT)
        self._tokens: dict[int, dict[str, int]] = {}  # minute since the epoch -> caller -> tokens

    def finished(self, exchange: Exchange) -> None:
        entry = exchange.entry
        self._recent.append(exchange)
        minute = int(time.time() // 60)
        per_caller = self._tokens.setdefault(minute, {})
        per_caller[entry.caller] = per_caller.get(entry.caller, 0) + (entry.prompt_tokens or 0) + entry.completion_tokens
        for old in [m for m in self._tokens if m <= minute - MINUTES]:
            del self._tokens[old]

    def document(self, in_flight: dict[str, int], only_caller: str | None = None) -> dict[str, Any]:
        """Everyone's activity, or with ``only_caller`` (a caller who may not see others') that caller's."""
        now = int(time.time() // 60)
        minutes = list(range(now - MINUTES + 1, now + 1))
        callers = sorted({caller for per_caller in self._tokens.values() for caller in per_caller})
        recent = reversed(self._recent)
        if only_caller is not None:
            callers = [caller for caller in callers if caller == only_caller]
            in_flight = {caller: count for caller, count in in_flight.items() if caller == only_caller}
            recent = (exchange for exchange in recent if exchange.entry.caller == only_caller)
        return {
            "in_flight": in_flight,
            "tokens_per_minute": {
                "minutes": [minute * 60 for minute in minutes],
                "callers": {caller: [self._tokens.get(m, {}).get(caller, 0) for m in minutes] for caller in callers},
            },
            "recent": [
                {**asdict(exchange.entry), "request": exchange.request, "response": exchange.response}
                for exchange in recent
            ],
        }
