"""The last requests and answers per model, for ``GET /engines/requests`` (Docker Model Runner's shape).

``Accept: text/event-stream`` follows new records as server-sent events: ``connected`` first, then
one ``new_request`` per record (stored records first with ``include_existing=true``).
"""

import asyncio
import itertools
import json
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from compose_models.runner.http.exchange import Exchange
from compose_models.runner.http.streams import event_frame
from compose_models.runner.services import services_of

RECORDS_PER_MODEL = 10
FOLLOWER_BACKLOG = 100  # records a follower may fall behind by before it is let go
_LONG_BASE64 = re.compile(r"([A-Za-z0-9+/]{100})[A-Za-z0-9+/]{100,}=*")


@dataclass(frozen=True)
class RequestRecord:
    id: str
    model: str
    method: str
    url: str
    request: str
    response: str
    error: str | None
    timestamp: int
    status_code: int
    user_agent: str
    origin: str


def _why_cut_off(exchange: Exchange) -> str | None:
    if not exchange.outcome.cut_off:
        return None
    return f"cut off: the client closed the stream after {exchange.outcome.completion_tokens} completion tokens"


def shorten_media(text: str) -> str:
    """Inline images and other base64 payloads cut to their first 100 characters."""
    return _LONG_BASE64.sub(r"\1...", text)


def _no_configuration(label: str) -> dict[str, Any]:
    return {}


class RequestRecords:
    def __init__(self, per_model: int = RECORDS_PER_MODEL, configuration_of: Callable[[str], dict[str, Any]] = _no_configuration) -> None:
        # a model's configuration in the records' answer: the DMR API's, handed in by app.py (api/ is above)
        self.configuration_of = configuration_of
        self._records: dict[str, deque[RequestRecord]] = {}
        self._followers: set[asyncio.Queue[RequestRecord | None]] = set()
        self._ids = itertools.count(1)

    def next_id(self) -> str:
        return f"req-{next(self._ids)}"

    def observe(self, exchange: Exchange) -> None:
        """A finished inference exchange becomes a record, when it named a model this runner has."""
        inbound, outcome = exchange.inbound, exchange.outcome
        if exchange.body.model_label is None or outcome.refused:
            return
        query = inbound.query
        self.add(
            RequestRecord(
                id=self.next_id(),
                model=exchange.body.model_label,
                method=inbound.method,
                url=inbound.path + (f"?{query}" if query else ""),
                request=shorten_media(exchange.body.raw.decode("utf-8", errors="replace")),
                response=outcome.response_head.decode("utf-8", errors="replace"),
                error=outcome.error or _why_cut_off(exchange) or (_error_message(bytes(outcome.response_head)) if outcome.status >= 400 else None),
                timestamp=int(time.time()),
                status_code=outcome.status,
                user_agent=inbound.headers.get("user-agent", ""),
                origin=inbound.route.dialect.value,
            )
        )

    def add(self, record: RequestRecord) -> None:
        self._records.setdefault(record.model, deque(maxlen=RECORDS_PER_MODEL)).append(record)
        for queue in list(self._followers):
            if queue.qsize() >= FOLLOWER_BACKLOG:
                # A follower that does not read must not hold records without bound: it is let go,
                # and its stream ends once it reads again (the last slot is kept for the end).
                self._followers.discard(queue)
                queue.put_nowait(None)
            else:
                queue.put_nowait(record)

    def stored(self, model: str | None = None) -> list[RequestRecord]:
        groups = [self._records.get(model, ())] if model else self._records.values()
        return [record for group in groups for record in group]

    async def follow(self) -> AsyncIterator[RequestRecord]:
        """New records as they come, until the follower falls ``FOLLOWER_BACKLOG`` records behind."""
        queue: asyncio.Queue[RequestRecord | None] = asyncio.Queue(FOLLOWER_BACKLOG + 1)
        self._followers.add(queue)
        try:
            while (record := await queue.get()) is not None:
                yield record
        finally:
            self._followers.discard(queue)


def _error_message(body: bytes) -> str:
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return body.decode("utf-8", errors="replace")[:500]
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        return str(error.get("message", error))
    return str(error or payload)[:500]


def _group(records: list[RequestRecord], configuration_of: Callable[[str], dict[str, Any]]) -> list[dict[str, Any]]:
    models = dict.fromkeys(record.model for record in records)
    return [
        {
            "count": sum(1 for record in records if record.model == model),
            "model": model,
            "config": configuration_of(model),
            "records": [asdict(record) for record in records if record.model == model],
        }
        for model in models
    ]


async def requests_endpoint(request: Request) -> Response:
    records = services_of(request).records
    model = request.query_params.get("model") or None
    configurations = records.configuration_of
    if "text/event-stream" not in request.headers.get("accept", ""):
        return JSONResponse(_group(records.stored(model), configurations))
    replay = request.query_params.get("include_existing", "").lower() in ("1", "true")

    async def events() -> AsyncIterator[bytes]:
        yield event_frame("connected", {"status": "connected"})
        for record in records.stored(model) if replay else []:
            yield event_frame("new_request", _group([record], configurations))
        async for record in records.follow():
            if model is None or record.model == model:
                yield event_frame("new_request", _group([record], configurations))

    return StreamingResponse(events(), media_type="text/event-stream", headers={"cache-control": "no-cache"})
