"""Runner management routes in Docker Model Runner's shapes: status, configure, ps, unload, local models."""

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from compose_models import __version__
from compose_models.errors import UserError
from compose_models.runner.scheduler import ModelBusy, ModelNotFound

BACKEND_STATUS = "Running: llama.cpp via llama-cpp-python"


async def root(request: Request) -> Response:
    return PlainTextResponse("compose-models runner is running")


async def version(request: Request) -> Response:
    return JSONResponse({"version": __version__})


async def engines_status(request: Request) -> Response:
    return JSONResponse({"llama.cpp": BACKEND_STATUS})


async def engines_ps(request: Request) -> Response:
    return JSONResponse(request.app.state.scheduler.running())


async def configure(request: Request) -> Response:
    try:
        body = json.loads(await request.body())
        reference = body["model"]
        context_size = body.get("context-size")
        flags = body.get("runtime-flags") or []
        if context_size is not None and (not isinstance(context_size, int) or context_size < 0):
            raise ValueError("context-size must be a non-negative integer")
        if not isinstance(flags, list) or not all(isinstance(flag, str) for flag in flags):
            raise ValueError("runtime-flags must be a list of strings")
    except (ValueError, KeyError, TypeError) as error:
        return PlainTextResponse(f"invalid request: {error}", status_code=400)
    try:
        await request.app.state.scheduler.configure(reference, context_size or None, flags)
    except ModelNotFound as error:
        return PlainTextResponse(str(error), status_code=404)
    except ModelBusy as error:
        return PlainTextResponse(str(error), status_code=409)
    except UserError as error:
        return PlainTextResponse(str(error), status_code=400)
    return Response(status_code=202)


async def unload(request: Request) -> Response:
    try:
        body = json.loads(await request.body() or b"{}")
        references = None if body.get("all") else list(body.get("models") or [])
        count = await request.app.state.scheduler.unload(references)
    except ModelNotFound as error:
        return PlainTextResponse(str(error), status_code=404)
    except (ValueError, AttributeError) as error:
        return PlainTextResponse(f"invalid request: {error}", status_code=400)
    return JSONResponse({"unloaded_runners": count})


async def list_local_models(request: Request) -> Response:
    return JSONResponse([model.to_dmr_json() for model in request.app.state.store.models()])


def management_routes() -> list[Route]:
    return [
        Route("/", root, methods=["GET"]),
        Route("/version", version, methods=["GET"]),
        Route("/models", list_local_models, methods=["GET"]),
        Route("/engines/status", engines_status, methods=["GET"]),
        Route("/engines/ps", engines_ps, methods=["GET"]),
        Route("/engines/_configure", configure, methods=["POST"]),
        Route("/engines/unload", unload, methods=["POST"]),
    ]
