"""The models the upstreams serve, as the runner names them (``<prefix>/<model>``), found by name.

An upstream declared with ``models: "*"`` serves what its ``/v1/models`` lists: fetched at start-up and
again, in the background, when a lookup or a listing finds the list older than ``REFRESH_AFTER``
seconds. A failed fetch is logged and the last list kept; it never stops the runner.
"""

import asyncio
import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from compose_models.runner.observability.log import say
from compose_models.runner.upstreams.config import ALL_MODELS, Upstream

REFRESH_AFTER = 60.0  # seconds


@dataclass(frozen=True)
class RemoteModel:
    """A model served by an upstream; requests for it go there instead of to a local engine."""

    name: str  # as callers name it
    remote_name: str  # as the upstream names it
    upstream: Upstream
    mmproj_path: None = None  # images are the upstream's to refuse

    @property
    def base_url(self) -> str:
        return self.upstream.openai_base

    @property
    def auth_headers(self) -> dict[str, str]:
        return self.upstream.auth_headers()

    @property
    def timeout(self) -> httpx.Timeout:
        timeouts = self.upstream.timeouts
        return httpx.Timeout(timeouts.read, connect=timeouts.connect, pool=None)

    def openai_entry(self) -> dict[str, Any]:
        """The ``GET /engines/v1/models`` ``data`` element: owned by the upstream, which it names."""
        return {"id": self.name, "object": "model", "created": 0, "owned_by": f"upstream:{self.upstream.name}",
                "upstream": self.upstream.name, "remote_id": self.remote_name}  # fmt: skip


class RemoteModels:
    def __init__(self, upstreams: list[Upstream]) -> None:
        self.upstreams = upstreams
        self._listed: dict[str, list[str]] = {}  # upstream name -> what its /v1/models listed
        self._fetched_at: dict[str, float] = {}  # monotonic
        self._http: httpx.AsyncClient | None = None
        self._refreshing: asyncio.Task | None = None
        self._in_flight: dict[str, int] = {}  # requests being answered, by model name
        self._last_used: dict[str, float] = {}  # Unix seconds at the end of the last request, by model name

    async def start(self, http: httpx.AsyncClient) -> None:
        """Fetch the lists of the ``"*"`` upstreams once, before the runner answers."""
        self._http = http
        await self.refresh()

    def find(self, name: str) -> RemoteModel | None:
        self._refresh_soon()
        for upstream in self.upstreams:
            remote_name = upstream.remote_name(name)
            if remote_name is not None and upstream.short_name(remote_name) in self._served_by(upstream):
                return RemoteModel(name, remote_name, upstream)
        return None

    async def models(self) -> list[RemoteModel]:
        """Every remote model, with lists older than ``REFRESH_AFTER`` fetched again first."""
        await self.refresh()
        return self.known()

    def known(self) -> list[RemoteModel]:
        """Every remote model, as last listed."""
        return [
            RemoteModel(upstream.local_name(remote_name), remote_name, upstream)
            for upstream in self.upstreams
            for remote_name in self._served_by(upstream)
        ]

    @contextlib.contextmanager
    def serving(self, model: RemoteModel) -> Iterator[None]:
        """Count one request to ``model`` while it is answered, for ``ps`` and the dashboard."""
        self._in_flight[model.name] = self._in_flight.get(model.name, 0) + 1
        try:
            yield
        finally:
            self._in_flight[model.name] -= 1
            self._last_used[model.name] = time.time()

    def activity(self, model: RemoteModel) -> tuple[int, float | None]:
        """Requests to ``model`` being answered, and when its last one ended (None: none yet)."""
        return self._in_flight.get(model.name, 0), self._last_used.get(model.name)

    def _served_by(self, upstream: Upstream) -> list[str]:
        names = self._listed.get(upstream.name, []) if upstream.models == ALL_MODELS else upstream.models
        return [upstream.short_name(name) for name in names]

    async def refresh(self) -> None:
        stale = [upstream for upstream in self.upstreams if self._is_stale(upstream)]
        await asyncio.gather(*(self._fetch(upstream) for upstream in stale))

    def _is_stale(self, upstream: Upstream) -> bool:
        fetched = self._fetched_at.get(upstream.name)
        return upstream.models == ALL_MODELS and (fetched is None or time.monotonic() - fetched > REFRESH_AFTER)

    def _refresh_soon(self) -> None:
        if self._http is None or (self._refreshing is not None and not self._refreshing.done()):
            return
        if any(self._is_stale(upstream) for upstream in self.upstreams):
            self._refreshing = asyncio.get_running_loop().create_task(self.refresh())

    async def _fetch(self, upstream: Upstream) -> None:
        assert self._http is not None
        self._fetched_at[upstream.name] = time.monotonic()  # a failing upstream is asked again only later
        url = f"{upstream.openai_base}/v1/models"
        try:
            timeout = httpx.Timeout(upstream.timeouts.connect)
            response = await self._http.get(url, headers=upstream.auth_headers(), timeout=timeout)
            response.raise_for_status()
            listed = [entry["id"] for entry in response.json()["data"] if isinstance(entry.get("id"), str)]
        except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError) as error:
            say(f"upstream {upstream.name!r}: cannot list its models at {url}: {error or type(error).__name__}")
            return
        self._listed[upstream.name] = listed
