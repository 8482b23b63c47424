"""Background health checks of the upstreams: one that fails ``health.failures`` checks in a row is ejected
(requests go to its model's other replicas), and is checked on at the same interval, so that it comes back
at its first answer.

A check is a GET of the upstream's ``health_url`` (a runner's ``/engines/status``, vLLM's ``/health``, else
``/v1/models``) with the upstream's key; any 2xx status within the connect timeout passes (its body is not
read), and the whole check has ``timeouts.listing`` seconds, however slowly the upstream trickles.
"""

import asyncio
import contextlib

import httpx

from compose_models.log import say
from compose_models.runner.upstreams.config import Upstream, strip_credentials


class UpstreamHealth:
    def __init__(self, upstreams: list[Upstream]) -> None:
        self.upstreams = upstreams
        self._failures: dict[str, int] = {}  # failed checks in a row, by upstream name
        self._ejected: set[str] = set()
        self._checks: list[asyncio.Task[None]] = []

    def is_ejected(self, upstream: Upstream) -> bool:
        return upstream.name in self._ejected

    def start(self, http: httpx.AsyncClient) -> None:
        loop = asyncio.get_running_loop()
        self._checks = [loop.create_task(self._watch(http, upstream)) for upstream in self.upstreams]

    async def stop(self) -> None:
        for check in self._checks:
            check.cancel()
        for check in self._checks:
            with contextlib.suppress(asyncio.CancelledError):
                await check

    async def _watch(self, http: httpx.AsyncClient, upstream: Upstream) -> None:
        while True:
            await asyncio.sleep(upstream.health.interval)
            self._record(upstream, await _answers(http, upstream))

    def _record(self, upstream: Upstream, healthy: bool) -> None:
        if healthy:
            self._failures[upstream.name] = 0
            if upstream.name in self._ejected:
                self._ejected.discard(upstream.name)
                say(f"upstream {upstream.name!r} answers its health check again: it serves requests again")
            return
        failures = self._failures.get(upstream.name, 0) + 1
        self._failures[upstream.name] = failures
        if failures >= upstream.health.failures and upstream.name not in self._ejected:
            self._ejected.add(upstream.name)
            url = strip_credentials(upstream.health_url)
            say(f"upstream {upstream.name!r} is ejected: {failures} health checks of {url} failed in a row")


async def _answers(http: httpx.AsyncClient, upstream: Upstream) -> bool:
    timeout = httpx.Timeout(upstream.timeouts.connect)
    try:
        async with asyncio.timeout(upstream.timeouts.listing):
            request = http.build_request("GET", upstream.health_url, headers=upstream.auth_headers(), timeout=timeout)
            response = await http.send(request, stream=True)
            await response.aclose()
    except (httpx.HTTPError, TimeoutError):
        return False
    return response.is_success
