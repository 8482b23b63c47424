"""A request for a model an upstream serves: the replica it goes to, sent once more to another replica when
the first failed before answering, and the upstream's failures named as its own."""

import contextlib
import time
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.requests import Request

from compose_models.runner.http.capped_read import ANSWER_BYTES, cut
from compose_models.runner.http.errors import ApiError
from compose_models.runner.inference.lease import engine_error
from compose_models.runner.inference.relay import EngineCall, Timings
from compose_models.runner.inference.target import ResolvedCall, post_streamed, read_refusal
from compose_models.runner.services import services_of
from compose_models.runner.upstreams.config import strip_credentials
from compose_models.runner.upstreams.remote_models import NoHealthyReplica, RemoteModel


@dataclass(frozen=True)
class UpstreamReplica:
    """One upstream's replica of a model as a ``Target``: its key goes with every request, its answers are
    capped, and what it holds of the context is its own."""

    model: RemoteModel
    context_size: None = None
    answer_limit: int = ANSWER_BYTES

    @property
    def base_url(self) -> str:
        return self.model.base_url

    @property
    def auth_headers(self) -> dict[str, str]:
        return self.model.auth_headers

    @property
    def label(self) -> str:
        return self.model.name

    def describe(self) -> str:
        return f"upstream {self.model.upstream.name!r}"

    async def transport_failure(self, error: httpx.TransportError) -> ApiError:
        return upstream_failure(self.model, error)


async def start_upstream_call(
    request: Request, model: RemoteModel, payload: dict[str, Any], path: str, timings: Timings
) -> EngineCall:
    """Send ``payload`` to the upstream serving ``model``, under the upstream's own name for it and with the
    upstream's key (never the caller's: only ``post_streamed``'s headers go). Tool calls and sampling are its own.
    A request that failed before its first byte (no connection, or the upstream's own 5xx) is sent once more,
    to another replica of the model if it has one not ejected; else the caller gets the first failure."""
    failure: ApiError | None = None  # the first replica's, once the request is sent again
    tried: tuple[str, ...] = ()
    while True:
        stack = contextlib.AsyncExitStack()
        try:
            replica = stack.enter_context(services_of(request).remote_models.serving(model, tried))  # chosen now
        except NoHealthyReplica:
            if failure is not None:  # no other replica to send it to
                raise failure from None
            raise
        sent = {**payload, "model": replica.remote_name}
        timings.engine_ready = time.monotonic()
        try:
            response = await post_streamed(services_of(request).http, replica, path, sent, None, timeout=replica.timeout)
        except httpx.TransportError as error:
            await stack.aclose()
            if failure is not None or isinstance(error, httpx.ReadTimeout):  # it may still be working on it
                raise upstream_failure(replica, error) from None
            failure, tried = upstream_failure(replica, error), (replica.upstream.name,)
            continue
        except BaseException:  # cancelled: the client has gone
            await stack.aclose()
            raise
        if not response.is_success:  # a redirect too: it is not followed, and is no answer
            content = await read_refusal(response, stack)
            if failure is not None or response.status_code < 500:
                raise upstream_error(replica, response, content)
            failure, tried = upstream_error(replica, response, content), (replica.upstream.name,)
            continue
        return EngineCall(request, ResolvedCall(sent, path, UpstreamReplica(replica)), stack, response, timings)


def upstream_failure(model: RemoteModel, error: httpx.TransportError) -> ApiError:
    """A failed connection to an upstream: 504 when it timed out, else 502; both name the upstream."""
    upstream = model.upstream
    if isinstance(error, httpx.ConnectTimeout):
        return ApiError(504, f"upstream {upstream.name!r} did not accept a connection within {upstream.timeouts.connect:g}s")
    if isinstance(error, httpx.TimeoutException):
        return ApiError(504, f"upstream {upstream.name!r} did not answer within {upstream.timeouts.read:g}s")
    return ApiError(502, f"upstream {upstream.name!r} did not answer: {upstream.redact(str(error) or type(error).__name__)}")


def upstream_error(model: RemoteModel, response: httpx.Response, content: bytes) -> ApiError:
    """An upstream's error answer (the start of its body in ``content``): a refusal of the request itself
    (400, 413, 422, 429) passes on as it is; anything else (its key refused, the model unknown there, its own
    failure, a redirect) is a 502 naming it."""
    status = response.status_code
    if 300 <= status < 400:
        where = response.headers.get("location")
        to = f" to {cut(strip_credentials(where), 200)!r}" if where else ""
        return ApiError(502, f"upstream {model.upstream.name!r} answered {status}, a redirect{to}, which is not followed")
    error = engine_error(response, content)
    if status in (400, 413, 422, 429):
        return error
    return ApiError(502, f"upstream {model.upstream.name!r} answered {status}: {error.message}", code=error.code)
