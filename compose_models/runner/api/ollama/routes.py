"""Ollama's inference routes (``/api/chat``, ``/api/generate``, ``/api/embed``, ``/api/embeddings``),
translated to the engines' OpenAI API on the fly and streamed back as NDJSON.

What ``/api/create`` stored with the model (system prompt, parameters) is applied first (translation.py).
``options.num_ctx`` and ``keep_alive`` reconfigure the model, as they do in Ollama and Docker Model
Runner; an empty prompt (or message list) only loads the model, or unloads it with ``keep_alive: 0``.
"""

import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from compose_models.runner.api.dmr.configurations import check_context_size
from compose_models.runner.api.ollama.schema import (
    ChatRequest,
    EmbeddingsRequest,
    EmbedRequest,
    GenerateRequest,
    Generation,
    Options,
)
from compose_models.runner.api.ollama.translation import (
    OllamaStream,
    chat_payload,
    generate_payload,
    nanoseconds,
    with_model_defaults,
)
from compose_models.runner.errors import ModelNotFound
from compose_models.runner.http.body import read_request
from compose_models.runner.http.disconnect import stop_when_client_leaves
from compose_models.runner.http.errors import ApiError
from compose_models.runner.http.streams import json_line
from compose_models.runner.inference.embeddings import embed
from compose_models.runner.inference.engine_call import (
    CHAT_PATH,
    EngineCall,
    preload,
    start_engine_call,
    streaming_response,
)
from compose_models.runner.inference.engine_payload import chat_payload_for_engine, completion_payload_for_engine
from compose_models.runner.services import services_of
from compose_models.units import parse_duration, rfc3339_nano

NDJSON = "application/x-ndjson"


@stop_when_client_leaves
async def chat(request: Request) -> Response:
    parsed = await read_request(request, ChatRequest)
    if not parsed.messages:
        return await _load_or_unload(request, parsed, chat=True)
    parsed = with_model_defaults(services_of(request).store.find(parsed.model), parsed)
    await _apply_model_settings(request, parsed.model, parsed.options, _seconds(parsed.keep_alive))
    payload = chat_payload_for_engine(chat_payload(parsed))
    return await _generate(request, parsed, CHAT_PATH, payload, chat=True)


@stop_when_client_leaves
async def generate(request: Request) -> Response:
    parsed = await read_request(request, GenerateRequest)
    if not parsed.prompt and not parsed.images:
        return await _load_or_unload(request, parsed, chat=False)
    parsed = with_model_defaults(services_of(request).store.find(parsed.model), parsed)
    await _apply_model_settings(request, parsed.model, parsed.options, _seconds(parsed.keep_alive))
    path, payload = generate_payload(parsed)
    adapt = chat_payload_for_engine if "messages" in payload else completion_payload_for_engine
    return await _generate(request, parsed, path, adapt(payload), chat=False)


async def _generate(request: Request, parsed: Generation, path: str, payload: dict[str, Any], chat: bool) -> Response:
    call = await start_engine_call(request, payload, path)
    translator = OllamaStream(parsed.model, chat)
    if parsed.stream:
        return streaming_response(call, _lines(call, translator), NDJSON)
    return JSONResponse(await call.read_whole(_whole_answer(call, translator)))


async def _whole_answer(call: EngineCall, translator: OllamaStream) -> dict[str, Any]:
    async for chunk in call.chunks():
        translator.feed(chunk)
    return await translator.final(call, whole=True)


async def _lines(call: EngineCall, translator: OllamaStream) -> AsyncIterator[bytes]:
    try:
        async for chunk in call.chunks():
            if (piece := translator.feed(chunk)) is not None:
                yield json_line(piece)
        yield json_line(await translator.final(call, whole=False))
    except ApiError as error:
        yield json_line({"error": error.message})



async def _load_or_unload(request: Request, parsed: Generation, chat: bool) -> Response:
    """An empty prompt: unload the model now with ``keep_alive: 0``, else load it (keeping it as asked)."""
    started = time.monotonic()
    local = services_of(request).store.find(parsed.model) is not None
    remote = not local and services_of(request).remote_models.find(parsed.model) is not None
    if not local and not remote:
        raise ModelNotFound(parsed.model)
    keep_alive = _seconds(parsed.keep_alive)
    if remote:
        reason = "unload" if keep_alive == 0 else "load"  # an upstream loads and unloads its models itself
    elif keep_alive == 0:
        await services_of(request).scheduler.unload([parsed.model])
        reason = "unload"
    else:
        await _apply_model_settings(request, parsed.model, parsed.options, keep_alive)
        await preload(request, parsed.model)
        reason = "load"
    body = {"message": {"role": "assistant", "content": ""}} if chat else {"response": ""}
    duration = nanoseconds(time.monotonic() - started)
    return JSONResponse({"model": parsed.model, "created_at": rfc3339_nano(), **body, "done": True,
                         "done_reason": reason, "total_duration": duration, "load_duration": duration})


def _seconds(keep_alive: object) -> float | None:
    try:
        return None if keep_alive in (None, "") else parse_duration(keep_alive)
    except ValueError as error:
        raise ApiError(400, f"keep_alive: {error}") from None


async def _apply_model_settings(request: Request, reference: str, options: Options | None, seconds: float | None) -> None:
    """Reconfigure the model for ``num_ctx`` and set its keep-alive, when they differ from what it has."""
    num_ctx = options.num_ctx if options else None
    if num_ctx is None and seconds is None:
        return
    stored = services_of(request).store.find(reference)
    if stored is None and services_of(request).remote_models.find(reference) is not None:
        return  # an upstream's model has the upstream's settings
    if stored is None:
        raise ModelNotFound(reference)
    check_context_size(stored, num_ctx, "options.num_ctx")
    scheduler = services_of(request).scheduler
    current = scheduler.configuration(stored)
    if num_ctx is not None and num_ctx != current.context_size:
        keep_alive_now = current.keep_alive if seconds is None else seconds
        await scheduler.configure(
            reference, num_ctx, list(current.runtime_flags), keep_alive_now, draft_model=current.draft_model
        )
    elif seconds is not None and seconds != current.keep_alive:
        scheduler.set_keep_alive(reference, seconds)


@stop_when_client_leaves
async def embed_route(request: Request) -> Response:
    parsed = await read_request(request, EmbedRequest)
    await _apply_model_settings(request, parsed.model, parsed.options, _seconds(parsed.keep_alive))
    started = time.monotonic()
    inputs = [parsed.input] if isinstance(parsed.input, str) else parsed.input
    result = await embed(request, parsed.model, inputs)
    duration = nanoseconds(time.monotonic() - started)
    return JSONResponse({"model": parsed.model, "embeddings": result.vectors, "total_duration": duration,
                         "load_duration": 0, "prompt_eval_count": result.prompt_tokens})


@stop_when_client_leaves
async def embeddings_route(request: Request) -> Response:
    parsed = await read_request(request, EmbeddingsRequest)
    await _apply_model_settings(request, parsed.model, parsed.options, _seconds(parsed.keep_alive))
    result = await embed(request, parsed.model, [parsed.prompt])
    return JSONResponse({"embedding": result.vectors[0]})
