"""Where one request goes: a ``Target`` (a local engine the scheduler leased, or an upstream's replica of a
model), the call resolved for it, and the one way a request is sent to either."""

import contextlib
import json
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from compose_models.runner.http.capped_read import ERROR_BYTES, read_head
from compose_models.runner.http.errors import ApiError
from compose_models.runner.inference.chosen_tool_calls import ChosenToolCalls
from compose_models.runner.inference.engine_client import EngineResponse
from compose_models.runner.inference.forced_tool_call import ForcedToolCall
from compose_models.runner.inference.required_tool_calls import RequiredToolCalls

CHAT_PATH = "/v1/chat/completions"


class Endpoint(Protocol):
    """Where a request is POSTed: a base URL, and the headers every request to it carries (an upstream's
    key; a local engine's own, if it has one)."""

    @property
    def base_url(self) -> str: ...
    @property
    def auth_headers(self) -> dict[str, str]: ...


class Target(Endpoint, Protocol):
    """What a request is sent to, as the relay sees it: ``lease.LocalEngine`` for a local engine,
    ``replicas.UpstreamReplica`` for an upstream's replica of a model."""

    @property
    def label(self) -> str:
        """How records and metrics name the model it serves."""
    @property
    def context_size(self) -> int | None:
        """The tokens one request may fill (prompt and answer); None when unknown (an upstream)."""
    @property
    def answer_limit(self) -> int | None:
        """The bytes a whole answer may have; None for a local engine, whose answers are the runner's own."""
    def describe(self) -> str:
        """How errors name it: "upstream 'x'", "the engine for 'model'"."""
    async def transport_failure(self, error: httpx.TransportError) -> ApiError:
        """A failed connection to it as the error the caller gets."""


@dataclass(frozen=True)
class ResolvedCall:
    """A request as it was sent: the payload and path, its target, and the tool calls the answer is rebuilt
    around (``forced``: the runner constrained the answer; ``chosen``: the model may write them as text)."""

    payload: dict[str, Any]
    path: str
    target: Target
    forced: ForcedToolCall | RequiredToolCalls | None = None
    chosen: ChosenToolCalls | None = None

    @property
    def rewrites_chunks(self) -> bool:
        return bool(self.forced or self.chosen)


async def post_streamed(
    client: httpx.AsyncClient, engine: Endpoint, path: str, payload: dict[str, Any], as_sent: bytes | None,
    timeout: httpx.Timeout | None = None,
) -> httpx.Response:
    """POST ``payload`` to ``engine`` (as the bytes ``as_sent`` when given), streaming the answer; sent again
    once if the engine had just closed the kept-alive connection (llama-server closes idle ones), since then
    it never read the request."""
    body = as_sent if as_sent is not None else json.dumps(payload).encode()
    url = f"{engine.base_url}{path}"
    # Uncompressed: the stream is relayed as its raw bytes, and a size cap must bound what is kept, not a
    # compressed answer that inflates a thousandfold.
    headers = {"content-type": "application/json", "accept-encoding": "identity", **engine.auth_headers}
    options: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}
    try:
        return await client.send(client.build_request("POST", url, content=body, headers=headers, **options), stream=True)
    except httpx.RemoteProtocolError:
        return await client.send(client.build_request("POST", url, content=body, headers=headers, **options), stream=True)


async def read_refusal(response: httpx.Response | EngineResponse, stack: contextlib.AsyncExitStack) -> bytes:
    """The start of a refusing answer (its error is passed on), read before letting go of the call's
    engine or replica; a connection that fails meanwhile leaves what was read."""
    try:
        return await read_head(response, ERROR_BYTES)
    except httpx.TransportError:
        return b""
    finally:
        await response.aclose()
        await stack.aclose()
