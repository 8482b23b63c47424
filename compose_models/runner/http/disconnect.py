"""Stopping the work of a request whose client has hung up (a timeout, a closed tab), so that an engine
does not load a model or generate an answer for nobody.

Streamed answers need none of this once they have started: Starlette stops them when the client
leaves. Everything before (loading the model, and the whole of an answer that is not streamed) is
covered by ``stop_when_client_leaves``, which listens for the disconnection once the body is read.
"""

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from compose_models.runner.http.errors import ApiError

_BODY_READ = "compose_models.body_read"
Endpoint = Callable[[Request], Awaitable[Response]]


def mark_body_read(request: Request) -> None:
    """From now on, the only message the client can send is its disconnection."""
    request.scope.setdefault(_BODY_READ, asyncio.Event()).set()


def stop_when_client_leaves(endpoint: Endpoint) -> Endpoint:
    @functools.wraps(endpoint)
    async def watched(request: Request) -> Response:
        task = asyncio.ensure_future(endpoint(request))
        watcher = asyncio.ensure_future(_disconnection(request))
        try:
            await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                return task.result()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            raise ApiError(499, "the client closed the request")
        finally:
            watcher.cancel()

    return watched


async def _disconnection(request: Request) -> None:
    await request.scope.setdefault(_BODY_READ, asyncio.Event()).wait()
    while (await request.receive())["type"] != "http.disconnect":
        pass
