"""OpenAI-compatible routes, proxied to the model's engine with streaming passed through unbuffered."""

import contextlib
import json
import time

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from compose_models.runner.engine import EngineError
from compose_models.runner.errors import openai_error
from compose_models.runner.scheduler import COMPLETION, EMBEDDING, ModelBusy, ModelNotFound, Scheduler

MAX_BODY_BYTES = 10 * 1024 * 1024


async def list_models(request: Request) -> Response:
    store = request.app.state.store
    data = [model.openai_entry() for model in store.models()]
    return JSONResponse({"object": "list", "data": data})


async def get_model(request: Request) -> Response:
    name = request.path_params["name"]
    model = request.app.state.store.find(name)
    if model is None:
        return openai_error(404, f"model {name!r} not found", param="model", code="model_not_found")
    return JSONResponse(model.openai_entry())


async def _read_json(request: Request) -> dict | Response:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return openai_error(413, "request too large")
    try:
        payload = json.loads(body)
    except ValueError:
        return openai_error(400, "request body is not valid JSON")
    if not isinstance(payload, dict):
        return openai_error(400, "request body must be a JSON object")
    if not isinstance(payload.get("model"), str) or not payload["model"]:
        return openai_error(400, "you must provide a model parameter", param="model")
    return payload


def _proxy_route(upstream_path: str, mode: str = COMPLETION):
    async def endpoint(request: Request) -> Response:
        payload = await _read_json(request)
        if isinstance(payload, Response):
            return payload
        return await forward(request, payload, upstream_path, mode)

    return endpoint


async def forward(request: Request, payload: dict, upstream_path: str, mode: str = COMPLETION) -> Response:
    """Send ``payload`` to the engine of ``payload["model"]`` and relay its answer as it comes."""
    scheduler: Scheduler = request.app.state.scheduler
    reference = payload["model"]
    client: httpx.AsyncClient = request.app.state.http
    usage = contextlib.AsyncExitStack()
    try:
        engine, sampling_defaults = await usage.enter_async_context(scheduler.use(reference, mode))
    except ModelNotFound:
        return openai_error(404, f"model {reference!r} not found", param="model", code="model_not_found")
    except ModelBusy as error:
        return openai_error(409, str(error))
    except EngineError as error:
        return openai_error(500, f"unable to load runner: {error}")
    for field_name, value in sampling_defaults.items():
        payload.setdefault(field_name, value)
    upstream_request = client.build_request(
        "POST", f"{engine.base_url}{upstream_path}", json=payload, headers={"accept": request.headers.get("accept", "*/*")}
    )
    try:
        upstream = await client.send(upstream_request, stream=True)
    except httpx.TransportError as error:
        await usage.aclose()
        return openai_error(502, f"engine for {reference!r} did not answer: {error}")

    async def release() -> None:
        await upstream.aclose()
        await usage.aclose()

    content_type = upstream.headers.get("content-type", "application/json")
    return StreamingResponse(
        _relay(upstream, is_stream="text/event-stream" in content_type),
        status_code=upstream.status_code,
        media_type=content_type,
        background=BackgroundTask(release),
    )


async def _relay(upstream: httpx.Response, *, is_stream: bool):
    try:
        async for chunk in upstream.aiter_raw():
            yield chunk
    except httpx.TransportError as error:
        if not is_stream:
            raise
        # The engine died mid-stream: tell the caller inside the stream rather than cutting it silently.
        event = {"error": {"message": f"engine stopped: {error}", "type": "server_error", "created": int(time.time())}}
        yield f"data: {json.dumps(event)}\n\n".encode()


def openai_routes() -> list[Route]:
    return [
        Route("/models", list_models, methods=["GET"]),
        Route("/models/{name:path}", get_model, methods=["GET"]),
        Route("/chat/completions", _proxy_route("/v1/chat/completions"), methods=["POST"]),
        Route("/completions", _proxy_route("/v1/completions"), methods=["POST"]),
        Route("/embeddings", _proxy_route("/v1/embeddings", EMBEDDING), methods=["POST"]),
    ]
