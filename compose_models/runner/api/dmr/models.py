"""Docker Model Runner's model management routes: list, inspect, delete, pull (create), tag, push.

Pull and push stream one JSON object per line (reference §1.10):
``{"type": "progress|success|error", "message", "total", "layer": {"id", "size", "current"}, "mode"}``.
"""

from collections.abc import AsyncGenerator, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from compose_models.errors import UserError
from compose_models.runner.api.dmr.schema import CreateRequest
from compose_models.runner.api.dmr.transfer_stream import (
    Failed,
    Finished,
    LayerProgress,
    TransferEvent,
    TransferResponse,
    in_transfer_thread,
    run_transfer,
)
from compose_models.runner.errors import ModelNotFound as RunnerModelNotFound
from compose_models.runner.http.body import read_request
from compose_models.runner.http.disconnect import stop_when_client_leaves
from compose_models.runner.http.endpoint import flag_set
from compose_models.runner.http.errors import ApiError
from compose_models.runner.http.exchange import check_model_read, may_list
from compose_models.runner.http.streams import json_line
from compose_models.runner.services import services_of
from compose_models.store.errors import ModelConflict, ModelNotFound, RegistryNotFound
from compose_models.store.pull import PullResult, fetch_remote_model, pull_model
from compose_models.store.push import push_model
from compose_models.store.transfer_progress import Transfers


async def list_models(request: Request) -> Response:
    models = services_of(request).store.models()
    return JSONResponse([model.to_dmr_json() for model in models if may_list(request.scope, model.tags)])


async def get_model(request: Request) -> Response:
    name = request.path_params["name"]
    remote = flag_set(request.query_params, "remote")  # the route table then made it management
    try:
        if remote:
            check_model_read(request.scope, name)
            model = await in_transfer_thread(lambda: fetch_remote_model(name))
        else:
            found = services_of(request).store.find(name)
            check_model_read(request.scope, name, found.tags if found is not None else ())
            model = found or services_of(request).store.get(name)  # get: the store's own not-found error
    except RegistryNotFound:  # by hand: the answer names the model, as a local lookup's does, not the registry's reply
        raise ApiError(404, f"model {name!r} not found") from None
    document = model.to_dmr_json()
    if remote:
        document.pop("tags", None)
    return JSONResponse(document)


async def delete_model(request: Request) -> Response:
    name = request.path_params["name"]
    force = request.query_params.get("force", "").lower() in ("1", "true")
    try:
        await services_of(request).scheduler.unload([name])
        return JSONResponse(services_of(request).store.remove(name, force=force))
    except ModelConflict:
        raise  # the runner's table answers it: 409
    except (RunnerModelNotFound, UserError):  # by hand: any name it cannot resolve is a 404 here, as in DMR
        raise ApiError(404, f"model {name!r} not found") from None


@stop_when_client_leaves
async def create_model(request: Request) -> Response:
    parsed = await read_request(request, CreateRequest)
    reference = parsed.source
    store = services_of(request).store
    return await _progress_response(request, lambda transfers: pull_model(store, reference, transfers=transfers), "pull")


@stop_when_client_leaves
async def push(request: Request) -> Response:
    name = request.path_params["name"]
    store = services_of(request).store
    if store.find(name) is None:
        raise ModelNotFound(name)
    return await _progress_response(request, lambda transfers: push_model(store, name, transfers=transfers), "push")


async def tag(request: Request) -> Response:
    name = request.path_params["name"]
    repository, tag_name = request.query_params.get("repo"), request.query_params.get("tag")
    if not repository or not tag_name:
        raise ApiError(400, "missing repo or tag query parameter")
    target = f"{repository}:{tag_name}"
    services_of(request).store.tag(name, target)
    return JSONResponse({"message": f'Model tagged successfully with "{target}"', "target": target}, status_code=201)


async def unknown_action(request: Request) -> Response:
    action = request.path_params["name"].rsplit("/", 1)[-1]
    raise ApiError(404, f'unknown action "{action}"')


async def _progress_response(request: Request, work: Callable[[Transfers], object], mode: str) -> Response:
    """Stream the transfer's progress; an error before any progress is an HTTP error instead."""
    events = run_transfer(work)
    first = await anext(events)
    if isinstance(first, Failed):
        raise ApiError(first.status, first.message)
    media_type = "application/json" if request.headers.get("accept") == "application/json" else "text/plain"
    return TransferResponse(_dmr_lines(first, events, mode), media_type=media_type)


async def _dmr_lines(
    first: TransferEvent, events: AsyncGenerator[TransferEvent, None], mode: str
) -> AsyncGenerator[bytes, None]:
    layers: dict[str, LayerProgress] = {}
    event: TransferEvent | None = first
    try:
        while event is not None:
            yield json_line(_dmr_line(event, layers, mode))
            event = await anext(events, None)
    finally:
        await events.aclose()


def _dmr_line(event: TransferEvent, layers: dict[str, LayerProgress], mode: str) -> dict[str, object]:
    if isinstance(event, Failed):
        return {"type": "error", "message": event.message, "mode": mode}
    if isinstance(event, Finished):
        result = event.result
        if isinstance(result, PullResult) and result.cached:
            return {"type": "success", "message": f"Using cached model: {result.model.config.get('size', '')}"}
        return {"type": "success", "message": f"Model {mode}ed successfully"}
    layers[event.layer] = event
    done_mib = sum(layer.done for layer in layers.values()) / 1024 / 1024
    verb = "Downloaded" if mode == "pull" else "Uploaded"
    return {
        "type": "progress",
        "message": f"{verb}: {done_mib:.2f} MB",
        "total": sum(layer.total for layer in layers.values()),
        "layer": {"id": f"sha256:{event.layer}", "size": event.total, "current": event.done},
        "mode": mode,
    }
