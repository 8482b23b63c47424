"""OpenAI-compatible routes, proxied to the model's engine with streaming passed through unbuffered."""

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from compose_models.runner.api.openai.context_full import marked_body
from compose_models.runner.api.openai.schema import (
    ChatCompletionRequest,
    CompletionRequest,
    EmbeddingRequest,
    RerankRequest,
    Sampling,
)
from compose_models.runner.api.openai.stream import relay_openai_stream
from compose_models.runner.errors import ModelNotFound
from compose_models.runner.http.body import read_request, read_request_payload
from compose_models.runner.http.disconnect import stop_when_client_leaves
from compose_models.runner.http.errors import ApiError
from compose_models.runner.http.exchange import may_list
from compose_models.runner.inference.embeddings import as_base64, embed
from compose_models.runner.inference.engine_call import CHAT_PATH, start_engine_call, streaming_response
from compose_models.runner.inference.engine_payload import chat_payload_for_engine, completion_payload_for_engine
from compose_models.runner.inference.rerank import rerank as rank_documents
from compose_models.runner.services import services_of


async def list_models(request: Request) -> Response:
    store = services_of(request).store
    data = []
    for model in store.models():
        entry = model.openai_entry()
        if may_list(request.scope, [*model.tags, entry["id"]]):
            data.append(entry)
    # A spill-over replica of a local model is not listed again.
    remote_models = await services_of(request).remote_models.models()
    data += [model.openai_entry() for model in remote_models
             if store.find(model.name) is None and may_list(request.scope, [model.name])]  # fmt: skip
    return JSONResponse({"object": "list", "data": data})


async def get_model(request: Request) -> Response:
    name = request.path_params["name"]
    model = services_of(request).store.find(name) or services_of(request).remote_models.find(name)
    if model is None or not may_list(request.scope, [name, *getattr(model, "tags", ())]):
        raise ModelNotFound(name)
    return JSONResponse(model.openai_entry())


@stop_when_client_leaves
async def chat_completions(request: Request) -> Response:
    parsed, payload = await read_request_payload(request, ChatCompletionRequest)
    return await _complete(request, parsed, chat_payload_for_engine(payload), CHAT_PATH)


@stop_when_client_leaves
async def completions(request: Request) -> Response:
    parsed, payload = await read_request_payload(request, CompletionRequest)
    return await _complete(request, parsed, completion_payload_for_engine(payload), "/v1/completions")


async def _complete(request: Request, parsed: Sampling, payload: dict[str, Any], path: str) -> Response:
    call = await start_engine_call(request, payload, path)
    if not call.is_stream:
        return Response(await call.read_whole(marked_body(call)), media_type="application/json")
    include_usage = bool(parsed.stream_options and parsed.stream_options.include_usage)
    return streaming_response(call, relay_openai_stream(call, include_usage), "text/event-stream")


@stop_when_client_leaves
async def embeddings(request: Request) -> Response:
    parsed = await read_request(request, EmbeddingRequest)
    inputs = [parsed.input] if isinstance(parsed.input, str) else parsed.input
    result = await embed(request, parsed.model, inputs)
    width = len(result.vectors[0]) if result.vectors else 0
    if parsed.dimensions is not None and parsed.dimensions != width:
        raise ApiError(400, f"this model's embeddings have {width} dimensions, not {parsed.dimensions}", param="dimensions")
    encode = as_base64 if parsed.encoding_format == "base64" else list
    data = [{"object": "embedding", "index": i, "embedding": encode(v)} for i, v in enumerate(result.vectors)]
    usage = {"prompt_tokens": result.prompt_tokens, "total_tokens": result.prompt_tokens}
    return JSONResponse({"object": "list", "data": data, "model": parsed.model, "usage": usage})


@stop_when_client_leaves
async def rerank(request: Request) -> Response:
    """``/rerank`` and ``/score``: Jina's and Cohere's answer, as llama-server gives it, most relevant first."""
    parsed = await read_request(request, RerankRequest)
    ranking = await rank_documents(request, parsed.model, parsed.query, parsed.documents)
    kept = ranking.results[: parsed.top_n] if parsed.top_n else ranking.results
    results = []
    for ranked in kept:
        result: dict[str, Any] = {"index": ranked.index, "relevance_score": ranked.relevance_score}
        if parsed.return_documents:
            result["document"] = {"text": parsed.documents[ranked.index]}
        results.append(result)
    usage = {"prompt_tokens": ranking.prompt_tokens, "total_tokens": ranking.prompt_tokens}
    return JSONResponse({"object": "list", "model": parsed.model, "results": results, "usage": usage})
