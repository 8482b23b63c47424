"""Anthropic's Messages API (``/anthropic/v1/messages``, ``/v1/messages``), translated to the engines'
OpenAI chat API on the fly. The engine is always asked for a stream, so a streamed answer starts at
once and stop sequences are found by the runner whether or not the client streams.

The prompt is counted before the answer starts: ``message_start`` carries the real input tokens, and a
``max_tokens`` larger than what the context has left is lowered to it, said in the
``x-compose-models-max-tokens-clamped`` header. ``anthropic-beta`` headers are not read: a beta the
runner lacks changes nothing it does."""

from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from compose_models.runner.api.anthropic.schema import CountTokensRequest, MessagesRequest
from compose_models.runner.api.anthropic.stream import AnthropicStream
from compose_models.runner.api.anthropic.translation import chat_request
from compose_models.runner.http.body import read_request
from compose_models.runner.http.disconnect import stop_when_client_leaves
from compose_models.runner.http.errors import ApiError, anthropic_error_body, anthropic_request_id
from compose_models.runner.http.streams import event_frame
from compose_models.runner.inference.engine_call import (
    CHAT_PATH,
    EngineCall,
    engine_call,
    start_engine_call,
    streaming_response,
)
from compose_models.runner.inference.engine_payload import chat_payload_for_engine

MAX_TOKENS_CLAMPED_HEADER = "x-compose-models-max-tokens-clamped"


async def root(request: Request) -> Response:
    """``/anthropic``: what Claude Code probes (with HEAD) before its first request."""
    return PlainTextResponse("compose-models runner: Anthropic Messages API at /anthropic/v1/messages")


@stop_when_client_leaves
async def messages(request: Request) -> Response:
    parsed = await read_request(request, MessagesRequest)
    payload = chat_payload_for_engine({**chat_request(parsed), "stream": True})
    call = await start_engine_call(request, payload, CHAT_PATH, fit_to_context=True)
    translator = AnthropicStream(parsed.model, parsed.stop_sequences or [])
    headers = {"request-id": anthropic_request_id()}
    if call.max_tokens_clamped is not None:
        headers[MAX_TOKENS_CLAMPED_HEADER] = str(call.max_tokens_clamped)
    if parsed.stream:
        return streaming_response(call, _events(call, translator), "text/event-stream", headers)
    return JSONResponse(await call.read_whole(_whole_message(call, translator)), headers=headers)


async def _whole_message(call: EngineCall, translator: AnthropicStream) -> dict[str, Any]:
    async for chunk in call.chunks():
        translator.feed(chunk)
        if translator.stopped_by_sequence:
            break
    input_tokens = await call.prompt_tokens()
    translator.context_full = await call.context_full(translator.finish_reason)
    translator.finish(input_tokens, call.usage.completion)
    return translator.message(input_tokens, call.usage.completion)


async def _events(call: EngineCall, translator: AnthropicStream) -> AsyncIterator[bytes]:
    for name, data in translator.start(await call.prompt_tokens()):
        yield event_frame(name, data)
    try:
        async for chunk in call.chunks():
            for name, data in translator.feed(chunk):
                yield event_frame(name, data)
            if translator.stopped_by_sequence:
                break
        translator.context_full = await call.context_full(translator.finish_reason)
        for name, data in translator.finish(await call.prompt_tokens(), call.usage.completion):
            yield event_frame(name, data)
    except ApiError as error:
        yield event_frame("error", anthropic_error_body(error.status, error.message))


@stop_when_client_leaves
async def count_tokens(request: Request) -> Response:
    parsed = await read_request(request, CountTokensRequest)
    payload = chat_payload_for_engine({**chat_request(parsed), "max_tokens": 1})
    async with engine_call(request, payload, CHAT_PATH) as call:
        await call.read_whole(call.body())
        return JSONResponse({"input_tokens": await call.prompt_tokens()}, headers={"request-id": anthropic_request_id()})
