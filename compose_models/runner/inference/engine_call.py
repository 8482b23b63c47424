"""One request to a model's engine: choose where it goes, send, hand back the answer to read, release.

Every API (OpenAI, Anthropic, Ollama) reaches the engines through here, so scheduler errors,
engine errors, token usage and time-to-first-token are handled once. The jobs are in their own modules:
``target`` (where a request goes, and the send), ``lease`` (a local engine for the request, and its
failures), ``replicas`` (an upstream's replicas, and their failures), ``relay`` (reading the answer).
This module puts them in order, one named step for each decision.
"""

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request

from compose_models.runner.backends import llama_server
from compose_models.runner.backends.engine import Engine
from compose_models.runner.http.errors import ApiError
from compose_models.runner.http.exchange import exchange_of
from compose_models.runner.http.streams import BoundedStreamingResponse
from compose_models.runner.inference.chosen_tool_calls import ChosenToolCalls
from compose_models.runner.inference.engine_client import EngineResponse
from compose_models.runner.inference.engine_payload import uses_images
from compose_models.runner.inference.forced_tool_call import ForcedToolCall
from compose_models.runner.inference.lease import (
    LocalEngine,
    acquire_engine,
    engine_error,
    engine_failure,
    preload,
    requested_model,
    send_to_engine,
)
from compose_models.runner.inference.relay import EngineCall, Timings, probe_tokens, tokenized_prompt
from compose_models.runner.inference.replicas import start_upstream_call
from compose_models.runner.inference.required_tool_calls import RequiredToolCalls
from compose_models.runner.inference.target import CHAT_PATH, ResolvedCall, read_refusal
from compose_models.runner.scheduling.model_names import model_label
from compose_models.runner.scheduling.scheduler import COMPLETION, LocalModel
from compose_models.runner.services import services_of
from compose_models.runner.upstreams.remote_models import RemoteModel

# What the API handlers import from here, whichever module it is in
__all__ = ["CHAT_PATH", "EngineCall", "engine_call", "preload", "requested_model", "start_engine_call", "streaming_response"]


async def start_engine_call(
    request: Request, payload: dict[str, Any], path: str, mode: str = COMPLETION, fit_to_context: bool = False
) -> EngineCall:
    """Send ``payload`` to the engine serving ``payload["model"]`` in ``mode``. A failed send
    is an ApiError; the scheduler's and the upstreams' errors propagate (runner/errors.py answers them).

    With ``fit_to_context`` the prompt is counted first (on a local engine), and a ``max_tokens`` larger than
    what the context has left is lowered to it (``EngineCall.max_tokens_clamped``); a prompt that fills the
    context alone is refused with a 400. ``payload`` is not changed: what is sent differently is a copy."""
    timings = Timings(started=time.monotonic())
    reference = payload["model"]
    model = _spill_over(request, requested_model(request, reference), reference, mode)
    if isinstance(model, RemoteModel):
        return await start_upstream_call(request, model, payload, path, timings)
    _check_images(model, payload, reference)
    sent, forced = _force_tool_calls(payload, path)
    stack = contextlib.AsyncExitStack()
    engine, sampling_defaults = await acquire_engine(request, reference, mode, stack)
    timings.engine_ready = time.monotonic()
    sent = _with_sampling_defaults(sent, sampling_defaults)
    prompt_tokens, clamped = await _fitted(request, engine, path, sent, reference, stack) if fit_to_context else (None, None)
    sent = _with_max_tokens(sent, clamped)
    response = await _send_leased(request, engine, reference, path, sent, _client_bytes(request, sent), stack)
    if response.status_code >= 400:
        raise engine_error(response, await read_refusal(response, stack))
    chosen = ChosenToolCalls.of(sent, model, engine.spec.backend) if path == CHAT_PATH and not forced else None
    target = LocalEngine(request, engine, reference, model_label(model))
    call = EngineCall(request, ResolvedCall(sent, path, target, forced, chosen), stack, response, timings)
    call.usage.prompt_tokens = prompt_tokens or None
    call.max_tokens_clamped = clamped
    return call


def _spill_over(request: Request, model: LocalModel | RemoteModel, reference: str, mode: str) -> LocalModel | RemoteModel:
    """The upstream a local model's requests spill over to when its engines have no free slot; else ``model``.

    Decided with no await before the scheduler counts this request, so that concurrent requests see each other."""
    if isinstance(model, RemoteModel) or services_of(request).scheduler.has_free_slot(model, mode):
        return model
    spilled = services_of(request).remote_models.spill_over(reference)
    return spilled or model


def _check_images(model: LocalModel, payload: dict[str, Any], reference: str) -> None:
    """A request with images needs a model with a multimodal projector (an upstream decides for itself)."""
    if model.mmproj_path is None and uses_images(payload):
        raise ApiError(400, f"model {reference!r} cannot read images: it has no multimodal projector")


def _force_tool_calls(payload: dict[str, Any], path: str) -> tuple[dict[str, Any], ForcedToolCall | RequiredToolCalls | None]:
    """The payload constrained to the tool call(s) the client forces (a new dict), and how to rebuild the answer."""
    if path != CHAT_PATH:
        return payload, None
    return ForcedToolCall.of(payload)


def _with_sampling_defaults(payload: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """The model's configured sampling for the fields the client left out; ``payload`` itself when none is missing."""
    missing = {name: value for name, value in defaults.items() if name not in payload}
    return {**payload, **missing} if missing else payload


def _with_max_tokens(payload: dict[str, Any], clamped: int | None) -> dict[str, Any]:
    return payload if clamped is None else {**payload, "max_tokens": clamped}


def _client_bytes(request: Request, sent: dict[str, Any]) -> bytes | None:
    """The client's own request body, to send on instead of ``sent`` serialised again: only when ``sent`` is
    the very dict the body reader parsed from it. The handler's translations and the steps here hand that
    object on only when they changed nothing in it (they return a new dict when they change something), so
    identity tells, without comparing payloads."""
    exchange = exchange_of(request.scope)
    return exchange.body.raw if exchange is not None and sent is exchange.body.payload else None


async def _send_leased(
    request: Request, engine: Engine, reference: str, path: str, payload: dict[str, Any], as_sent: bytes | None,
    stack: contextlib.AsyncExitStack,
) -> httpx.Response | EngineResponse:
    """Send to the leased engine; on failure the lease (``stack``) is let go after the failure is known."""
    try:
        return await send_to_engine(request, engine, path, payload, as_sent)
    except httpx.TransportError as error:
        failure = await engine_failure(request, engine, reference, error)
        await stack.aclose()  # after the crash is seen, so the scheduler counts it
        raise failure from None
    except BaseException:  # cancelled: the client has gone
        await stack.aclose()
        raise


async def _fitted(
    request: Request, engine: Engine, path: str, payload: dict[str, Any], reference: str, stack: contextlib.AsyncExitStack
) -> tuple[int | None, int | None]:
    """``_fit_to_context`` for the leased engine; the lease (``stack``) let go if it fails."""
    try:
        return await _fit_to_context(request, engine, path, payload, reference)
    except BaseException:
        await stack.aclose()
        raise


async def _fit_to_context(
    request: Request, engine: Engine, path: str, payload: dict[str, Any], reference: str
) -> tuple[int, int | None]:
    """The prompt's token count, and the ``max_tokens`` to send instead of the client's when it does not fit."""
    context_size = engine.spec.context_size
    try:
        prompt = await tokenized_prompt(request, engine, payload, context_size) if _counts_exactly(engine, path, payload) else 0
        prompt = prompt or await probe_tokens(request, engine, path, payload)
    except httpx.TransportError as error:  # a hung or dead engine is reported now, as for the request itself
        raise await engine_failure(request, engine, reference, error) from None
    if not prompt or not context_size:
        return prompt, None
    room = context_size - prompt
    if room < 1:
        raise ApiError(400, f"the prompt is {prompt} tokens, which fills the {context_size}-token context of "
                            f"{reference!r}; shorten it or configure a larger context size", param="messages")
    asked = payload.get("max_tokens")
    if not isinstance(asked, int) or asked > room:
        return prompt, room
    return prompt, None


def _counts_exactly(engine: Engine, path: str, payload: dict[str, Any]) -> bool:
    """Whether the engine counts a prompt without answering it (``relay.tokenized_prompt``) exactly as it will
    count it for the request: llama-server's chat completions, when no image is in the prompt (nor a projector
    in the engine, whose tokenizer is then another). Other engines answer a one-token request instead."""
    spec = engine.spec
    return spec.backend == llama_server.NAME and path == CHAT_PATH and spec.mmproj_path is None and not uses_images(payload)


@contextlib.asynccontextmanager
async def engine_call(request: Request, payload: dict[str, Any], path: str, mode: str = COMPLETION) -> AsyncIterator[EngineCall]:
    call = await start_engine_call(request, payload, path, mode)
    try:
        yield call
    finally:
        await call.close()


def streaming_response(
    call: EngineCall, body: AsyncIterator[bytes], media_type: str, headers: dict[str, str] | None = None
) -> BoundedStreamingResponse:
    """Stream ``body`` to the client; the engine is released when the stream ends, the client leaves, or
    the client stops reading for longer than the send timeout."""
    timeouts = services_of(call._request).timeouts
    return BoundedStreamingResponse(body, media_type=media_type, background=BackgroundTask(call.close),
                                    headers={"cache-control": "no-cache", "x-accel-buffering": "no", **(headers or {})},
                                    send_timeout=timeouts.send)  # fmt: skip
