"""Runner management routes in Docker Model Runner's shapes: status, configure, ps, df, unload,
request records and metrics; and ours: the reach proof containers are probed with."""

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from compose_models import __version__
from compose_models.runner.api.dmr.configurations import (
    configuration_document,
    configuration_json,
    configuration_sources,
)
from compose_models.runner.api.dmr.schema import ConfigureRequest, LoadRequest, ReleaseRequest, UnloadRequest
from compose_models.runner.api.dmr.wire import loaded_engine_json, remote_models_json
from compose_models.runner.errors import EngineError, ModelNotFound
from compose_models.runner.http.body import read_request
from compose_models.runner.http.endpoint import flag_set
from compose_models.runner.http.errors import ApiError
from compose_models.runner.http.exchange import check_model_read, may_list
from compose_models.runner.scheduling.model_names import model_label
from compose_models.runner.services import services_of
from compose_models.store.model import StoredModel


async def root(request: Request) -> Response:
    return PlainTextResponse("compose-models runner is running")


async def version(request: Request) -> Response:
    return JSONResponse({"version": __version__})


async def engines_status(request: Request) -> Response:
    return JSONResponse(services_of(request).scheduler.backend_status())


async def engines_ps(request: Request) -> Response:
    with_engine = flag_set(request.query_params, "engine")  # the route table then made it management
    store = services_of(request).store
    local = [loaded_engine_json(engine, with_engine) for engine in services_of(request).scheduler.running()
             if may_list(request.scope, [engine.reference, *_tags_of(store.find(engine.reference))])]  # fmt: skip
    remote = remote_models_json(services_of(request).remote_models)
    return JSONResponse(local + [entry for entry in remote if may_list(request.scope, [entry["model_name"]])])


def _tags_of(model: StoredModel | None) -> list[str]:
    return list(model.tags) if model is not None else []


async def engines_df(request: Request) -> Response:
    return JSONResponse({"models_disk_usage": services_of(request).store.disk_usage(), "default_backend_disk_usage": 0})


async def configure(request: Request) -> Response:
    """Accepted (202) once every value is valid; engines serving requests drain before they restart."""
    parsed = await read_request(request, ConfigureRequest)
    context_size = parsed.context_size if parsed.context_size and parsed.context_size > 0 else None
    scheduler = services_of(request).scheduler
    source = f"compose project {parsed.project}" if parsed.project else "configure"
    try:
        if parsed.reset:
            await scheduler.reset(parsed.model)
        else:
            await scheduler.configure(
                parsed.model, context_size, parsed.flags, parsed.keep_alive_seconds, source=source,
                draft_model=parsed.draft_model,
            )
    except ModelNotFound:
        remote = services_of(request).remote_models.find(parsed.model)
        if remote is not None:
            raise ApiError(400, f"model {parsed.model!r} is served by upstream {remote.upstream.name!r}: "
                           "configure it there") from None  # fmt: skip
        raise
    return Response(status_code=202)


async def load(request: Request) -> Response:
    """``POST /engines/_load``: load a model now (and pin it to a Compose project); how long it took."""
    parsed = await read_request(request, LoadRequest)
    scheduler = services_of(request).scheduler
    try:
        if parsed.project:
            scheduler.pin(parsed.model, parsed.project)
        seconds = await scheduler.preload(parsed.model)
    except EngineError as error:  # by hand: 503 with the engine's own message, which `up` prints, not a request's 500
        raise ApiError(503, str(error)) from None
    return JSONResponse({"model": parsed.model, "seconds": round(seconds, 3), "pinned_by": parsed.project})


async def release(request: Request) -> Response:
    """``POST /engines/_release``: the Compose project is down; its models unload after their keep-alive."""
    parsed = await read_request(request, ReleaseRequest)
    return JSONResponse({"released": services_of(request).scheduler.release(parsed.project)})


async def configurations(request: Request) -> Response:
    """``GET /engines/_configure[?model=X]``: the stored configurations, in DMR's Go field names."""
    scheduler = services_of(request).scheduler
    wanted = request.query_params.get("model")
    if wanted:
        check_model_read(request.scope, wanted, _tags_of(services_of(request).store.find(wanted)))
    if wanted and configuration_document(scheduler, wanted) is None:
        raise ModelNotFound(wanted)
    models = [scheduler.find(wanted)] if wanted else [
        model for model in services_of(request).store.models() if may_list(request.scope, model.tags)]
    entries = []
    for model in models:
        configuration = scheduler.configuration(model)
        document = configuration_json(configuration)
        if document or wanted:
            entries.append({"Backend": "llama.cpp", "Model": model_label(model), "ModelID": model.id,
                            "Mode": "completion", "Config": document, "Sources": configuration_sources(configuration),
                            "PinnedBy": scheduler.pinned_by(model)})
    return JSONResponse(entries)


async def unload(request: Request) -> Response:
    parsed = await read_request(request, UnloadRequest)
    count = await services_of(request).scheduler.unload(None if parsed.all else parsed.models)
    return JSONResponse({"unloaded_runners": count})
