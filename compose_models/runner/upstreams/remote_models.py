"""The models the upstreams serve, as the runner names them (``<prefix>/<model>``), found by name.

A name several upstreams serve has them as replicas: each request goes to the one with the fewest
requests outstanding (the first declared among equals) that its health checks have not ejected, chosen
as it is sent. A name the runner serves itself is served here; upstreams declared with ``spill_over`` take
its requests only while the local engine has no free slot (``spill_over``).

An upstream declared with ``models: "*"`` serves what its ``/v1/models`` lists: fetched at start-up and
again, in the background, when a lookup or a listing finds the list older than ``REFRESH_AFTER``
seconds. A failed fetch is logged and the last list kept; it never stops the runner. Start-up waits at most
``START_GRACE`` seconds for the lists (the rest arrive in the background), and a fetch has
``timeouts.listing`` seconds in all and ``LIST_BYTES``, however slowly or much the upstream sends.
"""

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from compose_models.log import say
from compose_models.runner.errors import UpstreamUnavailable
from compose_models.runner.http.capped_read import LIST_BYTES, AnswerTooLarge, read_capped
from compose_models.runner.upstreams.config import ALL_MODELS, Upstream, strip_credentials
from compose_models.runner.upstreams.health import UpstreamHealth

REFRESH_AFTER = 60.0  # seconds
START_GRACE = 1.0  # seconds start-up waits for the upstreams' model lists


@dataclass(frozen=True)
class RemoteModel:
    """A model served by an upstream; requests for it go there instead of to a local engine."""

    name: str  # as callers name it
    remote_name: str  # as the upstream names it
    upstream: Upstream

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

    @property
    def replica(self) -> tuple[str, str]:
        return self.upstream.name, self.name

    def openai_entry(self) -> dict[str, Any]:
        """The ``GET /engines/v1/models`` ``data`` element: owned by the upstream, which it names."""
        return {"id": self.name, "object": "model", "created": 0, "owned_by": f"upstream:{self.upstream.name}",
                "upstream": self.upstream.name, "remote_id": self.remote_name}  # fmt: skip


class NoHealthyReplica(UpstreamUnavailable):
    """Every replica of a model not yet tried for this request is ejected (or none is left to try)."""

    def __init__(self, name: str, ejected: list[Upstream]) -> None:
        upstreams = ", ".join(repr(upstream.name) for upstream in ejected)
        interval = min(upstream.health.interval for upstream in ejected) if ejected else 0
        super().__init__(f"model {name!r} is unavailable: its upstreams ({upstreams}) failed their health checks "
                         f"and are ejected; they are checked again every {interval:g}s")  # fmt: skip


class RemoteModels:
    def __init__(self, upstreams: list[Upstream]) -> None:
        self.upstreams = upstreams
        self.health = UpstreamHealth(upstreams)
        self._listed: dict[str, list[str]] = {}  # upstream name -> what its /v1/models listed
        self._fetched_at: dict[str, float] = {}  # monotonic
        self._http: httpx.AsyncClient | None = None
        self._refreshing: asyncio.Task[None] | None = None
        self._in_flight: dict[tuple[str, str], int] = {}  # requests being answered, by replica
        self._last_used: dict[tuple[str, str], float] = {}  # Unix seconds at the end of its last request

    async def start(self, http: httpx.AsyncClient) -> None:
        """Fetch the lists of the ``"*"`` upstreams, waiting at most ``START_GRACE`` seconds for them."""
        self._http = http
        for upstream in self.upstreams:
            if upstream.api_key_env and not os.environ.get(upstream.api_key_env):
                say(f"upstream {upstream.name!r}: ${upstream.api_key_env} is not set, so no key is sent to it")
        self._refreshing = asyncio.get_running_loop().create_task(self.refresh())
        await asyncio.wait({self._refreshing}, timeout=START_GRACE)
        self.health.start(http)

    async def stop(self) -> None:
        await self.health.stop()
        if self._refreshing is not None:
            self._refreshing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refreshing

    def find(self, name: str) -> RemoteModel | None:
        """The replica of ``name`` with the fewest requests outstanding now, one not ejected if there is one."""
        self._refresh_soon()
        return min(self._replicas(name), key=lambda model: (self._is_ejected(model), self._outstanding(model)),
                   default=None)  # fmt: skip

    def spill_over(self, name: str) -> RemoteModel | None:
        """The replica of ``name`` (a model the runner also serves itself) to take a request its local engine
        has no free slot for: among the ``spill_over`` upstreams, the one with the fewest requests outstanding
        now that is not ejected; None when there is none."""
        self._refresh_soon()
        replicas = [replica for replica in self._spill_over_replicas(name) if not self._is_ejected(replica)]
        return min(replicas, key=self._outstanding, default=None)

    def _spill_over_replicas(self, name: str) -> list[RemoteModel]:
        return [replica for replica in self._replicas(name) if replica.upstream.spill_over]

    def _is_ejected(self, model: RemoteModel) -> bool:
        return self.health.is_ejected(model.upstream)

    def _replicas(self, name: str) -> list[RemoteModel]:
        replicas = []
        for upstream in self.upstreams:
            remote_name = upstream.remote_name(name)
            if remote_name is not None and upstream.short_name(remote_name) in self._served_by(upstream):
                replicas.append(RemoteModel(name, remote_name, upstream))
        return replicas

    def _outstanding(self, model: RemoteModel) -> int:
        return self._in_flight.get(model.replica, 0)

    async def models(self) -> list[RemoteModel]:
        """Every remote model once (its first replica), with lists older than ``REFRESH_AFTER`` fetched again
        first (and a fetch under way finished)."""
        if self._refreshing is not None and not self._refreshing.done():
            await asyncio.wait({self._refreshing})
        await self.refresh()
        first_replicas: dict[str, RemoteModel] = {}
        for model in self.known():
            first_replicas.setdefault(model.name, model)
        return list(first_replicas.values())

    def known(self) -> list[RemoteModel]:
        """Every replica of every remote model, as last listed."""
        return [
            RemoteModel(upstream.local_name(remote_name), remote_name, upstream)
            for upstream in self.upstreams
            for remote_name in self._served_by(upstream)
        ]

    @contextlib.contextmanager
    def serving(self, model: RemoteModel, tried: tuple[str, ...] = ()) -> Iterator[RemoteModel]:
        """The replica of ``model`` to send a request to, chosen now (the fewest outstanding among those not
        ejected, nor on an upstream in ``tried``), and counted while the request is answered.
        NoHealthyReplica when there is none."""
        self._refresh_soon()
        # A request spilled over from the local engine goes only to the upstreams that take spill-over.
        replicas = self._spill_over_replicas(model.name) if model.upstream.spill_over else self._replicas(model.name)
        candidates = [replica for replica in replicas if replica.upstream.name not in tried]
        if not candidates and not tried:
            candidates = [model]  # no longer listed: asked anyway, so that the upstream says what is wrong
        healthy = [replica for replica in candidates if not self._is_ejected(replica)]
        if not healthy:
            raise NoHealthyReplica(model.name, [replica.upstream for replica in candidates])
        model = min(healthy, key=self._outstanding)
        self._in_flight[model.replica] = self._outstanding(model) + 1
        try:
            yield model
        finally:
            self._in_flight[model.replica] -= 1
            self._last_used[model.replica] = time.time()

    def activity(self, model: RemoteModel) -> tuple[int, float | None, bool]:
        """Requests to this replica being answered, when its last one ended (None: none yet), and whether
        its upstream is ejected."""
        return self._outstanding(model), self._last_used.get(model.replica), self._is_ejected(model)

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
        deadline = upstream.timeouts.listing
        try:
            async with asyncio.timeout(deadline):
                listed = await _listing(self._http, upstream, url)
        except TimeoutError:
            why = f"it did not send its list within {deadline:g}s (timeouts.listing)"
        except (httpx.HTTPError, AnswerTooLarge, ValueError, RecursionError, KeyError, TypeError, AttributeError) as error:
            why = upstream.redact(str(error) or type(error).__name__)
        else:
            self._listed[upstream.name] = listed
            return
        say(f"upstream {upstream.name!r}: cannot list its models at {strip_credentials(url)}: {why}")


async def _listing(http: httpx.AsyncClient, upstream: Upstream, url: str) -> list[str]:
    """The model names the upstream's ``/v1/models`` answer lists; errors when it answers anything else."""
    timeout = httpx.Timeout(upstream.timeouts.connect)
    headers = {"accept-encoding": "identity", **upstream.auth_headers()}  # the cap bounds what is kept
    async with http.stream("GET", url, headers=headers, timeout=timeout) as response:
        if not response.is_success:
            raise ValueError(f"it answered {response.status_code}")
        answer = json.loads(await read_capped(response, LIST_BYTES))
    return [entry["id"] for entry in answer["data"] if isinstance(entry.get("id"), str)]
