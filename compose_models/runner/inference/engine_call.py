"""One request to a model's engine: acquire the engine, send, read the answer, release.

Every API (OpenAI, Anthropic, Ollama) reaches the engines through here, so scheduler errors,
engine errors, token usage and time-to-first-token are handled once. When the connection to an
engine fails, the engine's process is checked: a crash is reported as one, with what killed it. An
engine silent for longer than the read timeout has hung: the caller gets a 504 and the engine is
stopped, so that the next request starts a fresh one.
"""

import contextlib
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request

from compose_models.runner.backends.engine import Engine, EngineCrashLoop, EngineError
from compose_models.runner.http.capped_read import ANSWER_BYTES, ERROR_BYTES, AnswerTooLarge, cut, read_capped, read_head
from compose_models.runner.http.errors import ApiError, UnknownModel
from compose_models.runner.http.exchange import exchange_of
from compose_models.runner.http.streams import (
    BoundedStreamingResponse,
    FrameTooLarge,
    SseFrame,
    data_frame,
    split_blocks,
    split_frames,
    tokens_in,
)
from compose_models.runner.inference.chosen_tool_calls import ChosenToolCalls
from compose_models.runner.inference.engine_client import EngineResponse
from compose_models.runner.inference.engine_payload import uses_images
from compose_models.runner.inference.forced_tool_call import ForcedToolCall
from compose_models.runner.inference.required_tool_calls import RequiredToolCalls
from compose_models.runner.observability.metrics import RunnerMetrics
from compose_models.runner.observability.usage import Usage
from compose_models.runner.scheduling.model_names import model_label
from compose_models.runner.scheduling.scheduler import COMPLETION, LocalModel, ModelNotFound, Scheduler
from compose_models.runner.scheduling.settings import (
    ENGINE_CONNECT_TIMEOUT_VARIABLE,
    ENGINE_READ_TIMEOUT_VARIABLE,
    Timeouts,
)
from compose_models.runner.services import services_of
from compose_models.runner.upstreams.config import strip_credentials
from compose_models.runner.upstreams.remote_models import NoHealthyReplica, RemoteModel

T = TypeVar("T")
CHAT_PATH = "/v1/chat/completions"
ENGINE_CRASHED = "engine_crashed"  # the OpenAI error ``code`` of a crash report
_EXIT_GRACE = 1.0  # seconds for a process whose connection dropped to be seen dead


@dataclass
class Timings:
    """Monotonic clock readings of one call, for metrics and Ollama's durations."""

    started: float
    engine_ready: float = 0.0
    first_token: float | None = None


@dataclass(frozen=True)
class _Target:
    payload: dict[str, Any]
    path: str
    engine: Engine | RemoteModel  # where the request went: a local engine, or an upstream
    model: str  # the label metrics and records use
    forced: ForcedToolCall | RequiredToolCalls | None  # tool calls the answer is rebuilt into
    chosen: ChosenToolCalls | None  # tool calls the model may write as text, to be found in it

    @property
    def context_size(self) -> int | None:
        """The tokens one request may fill on a local engine (prompt and answer); unknown for an upstream."""
        return None if isinstance(self.engine, RemoteModel) else self.engine.spec.context_size


class EngineCall:
    """An engine's answer being read; holds the engine until ``close``."""

    def __init__(self, request: Request, target: _Target, stack: contextlib.AsyncExitStack,
                 response: httpx.Response | EngineResponse, timings: Timings) -> None:
        self._request = request
        self._target = target
        self._stack = stack
        self.response = response
        self.timings = timings
        self.usage = Usage()
        self.model = target.model
        self._answer: dict[str, Any] | None = None
        self._closed = False
        self.max_tokens_clamped: int | None = None  # the max_tokens sent, when the client's did not fit

    @property
    def context_size(self) -> int | None:
        return self._target.context_size

    async def context_full(self, finish_reason: str | None) -> bool:
        """Whether an answer that ended with ``finish_reason`` stopped because the context was full: it
        ended for length and the prompt and answer fill the context (within the one token an engine keeps
        back), which is also the case when ``max_tokens`` was clamped to what was left."""
        if finish_reason != "length" or not self.context_size:
            return False
        prompt = await self.prompt_tokens()
        return prompt > 0 and prompt + self.usage.completion + 1 >= self.context_size

    @property
    def is_stream(self) -> bool:
        return "text/event-stream" in self.response.headers.get("content-type", "")

    async def body(self) -> bytes:
        try:
            if isinstance(self._target.engine, RemoteModel):
                content = await read_capped(self.response, ANSWER_BYTES)
            else:
                content = await self.response.aread()
        except httpx.TransportError as error:
            raise await self._failure(error) from None
        except AnswerTooLarge as error:
            raise ApiError(502, f"{self._source()}: {error}; it was dropped") from None
        try:
            answer = json.loads(content)
        except (ValueError, RecursionError):
            return content
        if isinstance(answer, dict) and self._target.forced:
            answer = self._target.forced.rewrite_answer(answer)
            content = json.dumps(answer).encode()
        elif isinstance(answer, dict) and self._target.chosen:
            answer = self._target.chosen.rewrite_answer(answer)
            content = json.dumps(answer).encode()
        self.usage.observe(answer)
        self._answer = answer if isinstance(answer, dict) else None
        return content

    async def json(self) -> dict[str, Any]:
        await self.body()
        if self._answer is None:
            raise ApiError(502, "the engine's answer is not a JSON object")
        return self._answer

    async def frames(self) -> AsyncIterator[SseFrame]:
        """The stream's frames as they arrive; an engine that dies mid-stream raises ApiError(502)."""
        try:
            last_chunk: dict[str, Any] = {}
            async for frame in split_frames(self.response.aiter_raw()):
                self.usage.observe(frame.payload)
                if self.timings.first_token is None and self.usage.counted_chunks:
                    self.timings.first_token = time.monotonic()
                    self._metrics().first_token(self.model, self.timings.first_token - self.timings.started)
                if isinstance(frame.payload, dict):
                    last_chunk = frame.payload
                    for rewritten in self._rewritten(frame):
                        yield rewritten
                    continue
                if frame.is_done and self._target.chosen:
                    for chunk in self._target.chosen.finish_stream(last_chunk):
                        yield SseFrame(data_frame(chunk), json.dumps(chunk))
                yield frame
        except httpx.TransportError as error:
            raise await self._failure(error) from None
        except FrameTooLarge as error:
            raise ApiError(502, f"{self._source()}: {error}; the stream was dropped") from None

    async def relayed(self) -> AsyncGenerator[bytes | SseFrame, None]:
        """The stream for relaying as it is: each read's whole frames as bytes, except the frames that may
        need a change (usage, tool calls, an error, the end), parsed in their place. A stream whose every
        chunk is rewritten (tool calls the runner forces or finds), or with several choices, comes as
        frames(). Usage and the first token are observed as in frames()."""
        if self._target.forced or self._target.chosen or self._target.payload.get("n", 1) != 1:
            async for frame in self.frames():
                yield frame
            return
        try:
            async for item in split_blocks(self.response.aiter_raw()):
                if isinstance(item, bytes):
                    self.usage.counted_chunks += tokens_in(item)
                else:
                    self.usage.observe(item.payload)
                if self.timings.first_token is None and self.usage.counted_chunks:
                    self.timings.first_token = time.monotonic()
                    self._metrics().first_token(self.model, self.timings.first_token - self.timings.started)
                yield item
        except httpx.TransportError as error:
            raise await self._failure(error) from None
        except FrameTooLarge as error:
            raise ApiError(502, f"{self._source()}: {error}; the stream was dropped") from None

    def _source(self) -> str:
        if isinstance(self._target.engine, RemoteModel):
            return f"upstream {self._target.engine.upstream.name!r}"
        return f"the engine for {self._target.payload['model']!r}"

    def _rewritten(self, frame: SseFrame) -> list[SseFrame]:
        """The frames to pass on for one of the engine's chunks, with tool calls put in OpenAI's form."""
        if self._target.forced:
            chunks = [self._target.forced.rewrite_chunk(frame.payload)]
        elif self._target.chosen:
            chunks = self._target.chosen.rewrite_chunk(frame.payload)
        else:
            return [frame]
        return [SseFrame(data_frame(chunk), json.dumps(chunk)) for chunk in chunks]

    async def chunks(self) -> AsyncIterator[dict[str, Any]]:
        """The parsed JSON chunks of the stream, up to ``[DONE]``."""
        async for frame in self.frames():
            if isinstance(frame.payload, dict):
                yield frame.payload

    async def prompt_tokens(self) -> int:
        """The prompt's token count: reported by the engine, or asked of it with a one-token request."""
        if self.usage.prompt_tokens is None:
            self.usage.prompt_tokens = await _count_prompt_tokens(self._request, self._target)
        return self.usage.prompt_tokens

    async def read_whole(self, work: Awaitable[T]) -> T:
        """Await ``work`` (reading a whole answer), then release the engine."""
        try:
            return await work
        finally:
            await self.close()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self.response.aclose()
        finally:
            await self._stack.aclose()
            exchange = exchange_of(self._request.scope)
            if exchange is not None:  # the tap meters the request with what the engine counted
                exchange.engine_usage = (self.usage.prompt_tokens, self.usage.completion)

    async def _failure(self, error: httpx.TransportError) -> ApiError:
        if isinstance(self._target.engine, RemoteModel):
            return upstream_failure(self._target.engine, error)
        return await engine_failure(self._request, self._target.engine, self._target.payload["model"], error)

    def _metrics(self) -> RunnerMetrics:
        return services_of(self._request).metrics


def requested_model(request: Request, reference: str) -> LocalModel | RemoteModel:
    """The model ``reference`` names: as the tap found it for this request, else asked of the scheduler,
    then of the upstreams."""
    exchange = exchange_of(request.scope)
    if exchange is not None and exchange.resolved is not None and exchange.model == reference:
        return cast("LocalModel | RemoteModel", exchange.resolved)
    try:
        return cast("LocalModel | RemoteModel", services_of(request).scheduler.find(reference))
    except ModelNotFound:
        remote = services_of(request).remote_models.find(reference)
        if remote is None:
            raise UnknownModel(reference) from None
        return cast("LocalModel | RemoteModel", remote)


async def acquire_engine(request: Request, reference: str, mode: str, stack: contextlib.AsyncExitStack) -> tuple[Any, dict[str, Any]]:
    """Hold the engine serving ``reference`` in ``mode`` until ``stack`` closes; scheduler errors as ApiError."""
    scheduler: Scheduler = services_of(request).scheduler
    model = requested_model(request, reference)
    if isinstance(model, RemoteModel):
        raise ApiError(400, f"model {reference!r} is served by upstream {model.upstream.name!r}, which loads it itself")
    try:
        return await stack.enter_async_context(scheduler.use(reference, mode, model))
    except ModelNotFound:
        raise UnknownModel(reference) from None
    except EngineCrashLoop as error:
        raise ApiError(503, str(error), code=ENGINE_CRASHED) from None
    except EngineError as error:
        raise ApiError(500, f"unable to load runner: {error}") from None


async def preload(request: Request, reference: str, mode: str = COMPLETION) -> None:
    """Start the engine for ``reference`` without sending it a request."""
    async with contextlib.AsyncExitStack() as stack:
        await acquire_engine(request, reference, mode, stack)


async def start_engine_call(
    request: Request, payload: dict[str, Any], path: str, mode: str = COMPLETION, fit_to_context: bool = False
) -> EngineCall:
    """Send ``payload`` to the engine serving ``payload["model"]`` in ``mode``; errors become ApiError.

    With ``fit_to_context`` the prompt is counted first (on a local engine), and a ``max_tokens`` larger than
    what the context has left is lowered to it (``EngineCall.max_tokens_clamped``); a prompt that fills the
    context alone is refused with a 400."""
    timings = Timings(started=time.monotonic())
    reference = payload["model"]
    model = requested_model(request, reference)
    if not isinstance(model, RemoteModel) and not services_of(request).scheduler.has_free_slot(model, mode):
        # Decided here, with no await before the scheduler counts this request, so that concurrent
        # requests see each other.
        model = services_of(request).remote_models.spill_over(reference) or model
    if isinstance(model, RemoteModel):
        return await _start_upstream_call(request, model, payload, path, timings)
    if uses_images(payload) and getattr(model, "mmproj_path", None) is None:
        raise ApiError(400, f"model {reference!r} cannot read images: it has no multimodal projector")
    if path == CHAT_PATH:
        payload, forced = ForcedToolCall.of(payload)
    else:
        forced = None
    stack = contextlib.AsyncExitStack()
    engine, sampling_defaults = await acquire_engine(request, reference, mode, stack)
    timings.engine_ready = time.monotonic()
    for field_name, value in sampling_defaults.items():
        payload.setdefault(field_name, value)
    exchange = exchange_of(request.scope)
    prompt_tokens: int | None = None
    clamped: int | None = None
    if fit_to_context:
        try:
            prompt_tokens, clamped = await _fit_to_context(request, engine, path, payload, reference)
        except BaseException:
            await stack.aclose()
            raise
        if clamped is not None:
            payload["max_tokens"] = clamped
    # Nothing was translated: the client's own bytes go on, rather than the same JSON serialised again.
    as_sent = exchange.body if exchange is not None and exchange.payload == payload else None
    try:
        response = await _send_to_engine(request, engine, path, payload, as_sent)
    except httpx.TransportError as error:
        failure = await engine_failure(request, engine, reference, error)
        await stack.aclose()  # after the crash is seen, so the scheduler counts it
        raise failure from None
    except BaseException:  # cancelled: the client has gone
        await stack.aclose()
        raise
    if response.status_code >= 400:
        raise engine_error(response, await _read_refusal(response, stack))
    chosen = ChosenToolCalls.of(payload, model, engine.spec.backend) if path == CHAT_PATH and not forced else None
    target = _Target(payload, path, engine, model_label(model), forced, chosen)
    call = EngineCall(request, target, stack, response, timings)
    call.usage.prompt_tokens = prompt_tokens or None
    call.max_tokens_clamped = clamped
    return call


async def _fit_to_context(
    request: Request, engine: Engine, path: str, payload: dict[str, Any], reference: str
) -> tuple[int, int | None]:
    """The prompt's token count, and the ``max_tokens`` to send instead of the client's when it does not fit."""
    context_size = engine.spec.context_size
    try:
        prompt = await _probe_tokens(request, engine, path, payload)
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


async def _read_refusal(response: httpx.Response | EngineResponse, stack: contextlib.AsyncExitStack) -> bytes:
    """The start of a refusing answer (its error is passed on), read before letting go of the call's
    engine or replica; a connection that fails meanwhile leaves what was read."""
    try:
        return await read_head(response, ERROR_BYTES)
    except httpx.TransportError:
        return b""
    finally:
        await response.aclose()
        await stack.aclose()


async def _start_upstream_call(
    request: Request, model: RemoteModel, payload: dict[str, Any], path: str, timings: Timings
) -> EngineCall:
    """Send ``payload`` to the upstream serving ``model``, under the upstream's own name for it and with the
    upstream's key (never the caller's: only ``_send``'s headers go). Tool calls and sampling are its own.
    A request that failed before its first byte (no connection, or the upstream's own 5xx) is sent once more,
    to another replica of the model if it has one not ejected; else the caller gets the first failure."""
    failure: ApiError | None = None  # the first replica's, once the request is sent again
    tried: tuple[str, ...] = ()
    while True:
        stack = contextlib.AsyncExitStack()
        try:
            replica = stack.enter_context(services_of(request).remote_models.serving(model, tried))  # chosen now
        except NoHealthyReplica as error:
            if failure is not None:  # no other replica to send it to
                raise failure from None
            raise ApiError(503, str(error), code="upstream_unavailable") from None
        sent = {**payload, "model": replica.remote_name}
        timings.engine_ready = time.monotonic()
        try:
            response = await _send(services_of(request).http, replica, path, sent, None, timeout=replica.timeout)
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
            content = await _read_refusal(response, stack)
            if failure is not None or response.status_code < 500:
                raise upstream_error(replica, response, content)
            failure, tried = upstream_error(replica, response, content), (replica.upstream.name,)
            continue
        target = _Target(sent, path, replica, replica.name, forced=None, chosen=None)
        return EngineCall(request, target, stack, response, timings)


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
    timeouts: Timeouts = services_of(call._request).timeouts
    return BoundedStreamingResponse(body, media_type=media_type, background=BackgroundTask(call.close),
                                    headers={"cache-control": "no-cache", "x-accel-buffering": "no", **(headers or {})},
                                    send_timeout=timeouts.send)  # fmt: skip


async def engine_failure(request: Request, engine: Engine, reference: str, error: httpx.TransportError) -> ApiError:
    """A failed connection to ``engine`` as an ApiError: 504 when it timed out (it is then stopped as
    hung), else 502 with its crash report if it died."""
    if isinstance(error, httpx.TimeoutException):
        timeouts: Timeouts = services_of(request).timeouts
        if isinstance(error, httpx.ConnectTimeout):
            what = f"did not accept a connection within {timeouts.engine_connect:g}s ({ENGINE_CONNECT_TIMEOUT_VARIABLE})"
        else:
            what = f"did not answer within {timeouts.engine_read:g}s ({ENGINE_READ_TIMEOUT_VARIABLE})"
        scheduler: Scheduler = services_of(request).scheduler
        await scheduler.discard(engine, f"the engine for {reference!r} {what}")
        return ApiError(504, f"engine for {reference!r} {what}; it is restarted for the next request")
    report = await engine.crashed(within=_EXIT_GRACE)
    if report is not None:
        return ApiError(502, report, code=ENGINE_CRASHED)
    return ApiError(502, f"engine for {reference!r} did not answer: {error}")


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


def engine_error(response: httpx.Response | EngineResponse, content: bytes) -> ApiError:
    """An engine's error answer (the start of its body in ``content``) as ours, keeping its message, param
    and code; the message cut to ``ERROR_TEXT`` characters."""
    try:
        body = json.loads(content)
    except (ValueError, RecursionError):
        body = None
    body = body if isinstance(body, dict) else {}
    error = body.get("error")
    if isinstance(error, dict):
        message, param, code = str(error.get("message", "")), error.get("param"), error.get("code")
    else:
        text = content.decode("utf-8", errors="replace")
        message, param, code = str(error or body.get("detail", "") or text), None, None
    message = cut(message)
    param = cut(param, 200) if isinstance(param, str) else None
    code = cut(code, 200) if isinstance(code, str) else None
    status = response.status_code
    if status >= 500 and "validation error" in message:
        status = 400  # llama-cpp-python's server answers 500 when its request model rejects the body
    return ApiError(status, message.strip() or f"engine answered {status}", param=param, code=code)


async def _send_to_engine(
    request: Request, engine: Engine, path: str, payload: dict[str, Any], as_sent: bytes | None
) -> httpx.Response | EngineResponse:
    """POST ``payload`` to one of the runner's engines: by the engine client (engine_client.py) when the
    engine is on plain HTTP, else as to an upstream."""
    clients = services_of(request).engine_clients
    if clients.pool_for(engine.base_url) is None:
        return await _send(services_of(request).http, engine, path, payload, as_sent)
    body = as_sent if as_sent is not None else json.dumps(payload).encode()
    headers = {"content-type": "application/json", "accept-encoding": "identity", **engine.auth_headers}
    return await clients.post(engine.base_url, path, body, headers)


async def _send(
    client: httpx.AsyncClient, engine: Engine | RemoteModel, path: str, payload: dict[str, Any], as_sent: bytes | None,
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


async def _count_prompt_tokens(request: Request, target: _Target) -> int:
    return await _count_tokens(request, target.engine, target.path, target.payload)


async def _count_tokens(request: Request, engine: Engine | RemoteModel, path: str, payload: dict[str, Any]) -> int:
    try:
        return await _probe_tokens(request, engine, path, payload)
    except httpx.HTTPError:
        return 0


async def _probe_tokens(request: Request, engine: Engine | RemoteModel, path: str, payload: dict[str, Any]) -> int:
    """The prompt tokens of ``payload``, from a one-token request (llama-server keeps the prompt cached, so the
    real request that follows does not compute it again); 0 when the engine does not say. A failed connection
    raises."""
    probe = {key: value for key, value in payload.items() if key not in ("stream", "stream_options")}
    probe.update(max_tokens=1, n=1)
    url = f"{engine.base_url}{path}"
    http: httpx.AsyncClient = services_of(request).http
    async with http.stream("POST", url, json=probe, headers=engine.auth_headers) as response:
        try:
            answer = json.loads(await read_capped(response, ERROR_BYTES))
        except (AnswerTooLarge, ValueError, RecursionError):
            return 0
    try:
        return int(answer["usage"]["prompt_tokens"])
    except (KeyError, TypeError):
        return 0
