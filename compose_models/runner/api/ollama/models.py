"""Ollama's model routes: version, tags, ps, show, pull and push (NDJSON progress), delete and
copy. (Create and blobs: create.py and blobs.py.)"""

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from compose_models.errors import UserError
from compose_models.runner.api.ollama.schema import CopyRequest, Named, PullRequest, PushRequest
from compose_models.runner.api.ollama.show_fields import show_fields
from compose_models.runner.api.ollama.transfers import check_insecure, transfer_answer
from compose_models.runner.http.body import read_request
from compose_models.runner.http.disconnect import stop_when_client_leaves
from compose_models.runner.http.errors import ApiError, UnknownModel
from compose_models.runner.http.exchange import may_list
from compose_models.runner.scheduling.scheduler import LoadedEngine
from compose_models.runner.services import services_of
from compose_models.runner.upstreams.remote_models import RemoteModel
from compose_models.store.model import StoredModel
from compose_models.store.pull import pull_model
from compose_models.store.push import push_model
from compose_models.store.reference import listed_name
from compose_models.store.store import ModelConflict, ModelNotFound
from compose_models.units import rfc3339_nano

OLLAMA_VERSION = "0.1.0"  # what Docker Model Runner reports
FOREVER = "2318-01-01T00:00:00Z"


def ollama_name(tag: str) -> str:
    """A tag as every listing names it (OpenAI's and DMR's too), always with a tag."""
    name = listed_name(tag)
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def details(model: StoredModel) -> dict[str, Any]:
    architecture = model.config.get("architecture", "")
    return {
        "parent_model": "",
        "format": model.config.get("format") or "gguf",
        "family": architecture,
        "families": [architecture] if architecture else None,
        "parameter_size": model.config.get("parameters", ""),
        "quantization_level": model.config.get("quantization", ""),
    }


def _summary(model: StoredModel, name: str) -> dict[str, Any]:
    return {"name": name, "model": name, "size": model.size, "digest": model.id.removeprefix("sha256:"),
            "details": details(model)}


async def version(request: Request) -> Response:
    return JSONResponse({"version": OLLAMA_VERSION})


async def tags(request: Request) -> Response:
    entries = [
        {**_summary(model, ollama_name(tag)), "modified_at": rfc3339_nano(model.created * 1_000_000_000)}
        for model in services_of(request).store.models()
        for tag in model.tags
        if may_list(request.scope, [tag, ollama_name(tag)])
    ]
    store = services_of(request).store
    entries += [_remote_summary(model) for model in await services_of(request).remote_models.models()
                if store.find(model.name) is None  # a spill-over replica of a local model is listed once
                and may_list(request.scope, [model.name])]
    return JSONResponse({"models": entries})


def _remote_summary(model: RemoteModel) -> dict[str, Any]:
    """An upstream's model as Ollama lists its own remote models: ``remote_host`` and ``remote_model``."""
    empty = {"parent_model": "", "format": "", "family": "", "families": None, "parameter_size": "",
             "quantization_level": ""}  # fmt: skip
    return {"name": model.name, "model": model.name, "size": 0, "digest": "", "details": empty,
            "modified_at": rfc3339_nano(0), "remote_host": model.upstream.shown_url, "remote_model": model.remote_name}


async def ps(request: Request) -> Response:
    store = services_of(request).store
    entries: dict[str, dict[str, Any]] = {}
    for engine in services_of(request).scheduler.running():
        model = store.find(engine.reference)
        if model is None or model.id in entries:
            continue
        entries[model.id] = {**_summary(model, ollama_name(model.tags[0]) if model.tags else model.short_id),
                             "expires_at": _expires_at(engine), "size_vram": 0}
    return JSONResponse({"models": list(entries.values())})


def _expires_at(engine: LoadedEngine) -> str:
    if engine.unloads_after < 0:
        return FOREVER
    # One in use expires a keep-alive after it is released; counted from the whole second, as /engines/ps shows it.
    used = time.time() if engine.in_use else int(engine.last_used)
    return rfc3339_nano(int((used + engine.unloads_after) * 1_000_000_000))


async def show(request: Request) -> Response:
    parsed = await read_request(request, Named)
    model = services_of(request).store.find(parsed.model)
    if model is None:
        raise UnknownModel(parsed.model)
    metadata = dict(model.config.get("gguf") or {})
    metadata.pop("tokenizer.chat_template", None)
    return JSONResponse({
        **show_fields(model, ollama_name(model.tags[0]) if model.tags else model.id),
        "details": details(model), "model_info": metadata, "capabilities": ["completion", "tools", "embedding"],
        "modified_at": rfc3339_nano(model.created * 1_000_000_000),
    })


async def delete(request: Request) -> Response:
    parsed = await read_request(request, Named)
    store = services_of(request).store
    if store.find(parsed.model) is None:
        raise UnknownModel(parsed.model)
    await services_of(request).scheduler.unload([parsed.model])
    try:
        store.remove(parsed.model)
    except ModelConflict as error:
        raise ApiError(409, str(error)) from None
    except ModelNotFound:
        raise UnknownModel(parsed.model) from None
    return Response(status_code=200)


async def copy(request: Request) -> Response:
    parsed = await read_request(request, CopyRequest)
    try:
        services_of(request).store.tag(parsed.source, parsed.destination)
    except ModelNotFound:
        raise UnknownModel(parsed.source) from None
    except UserError as error:
        raise ApiError(400, str(error)) from None
    return Response(status_code=200)


@stop_when_client_leaves
async def pull(request: Request) -> Response:
    parsed = await read_request(request, PullRequest)
    store = services_of(request).store
    if parsed.insecure:
        check_insecure(parsed.model, "pull")
    # Plain HTTP is for loopback registries, which get it without asking, or for the user's own command.
    return await transfer_answer(
        lambda transfers: pull_model(store, parsed.model, transfers=transfers),
        parsed.stream, "pulling manifest", "pulling", ("verifying sha256 digest", "writing manifest"),
    )


@stop_when_client_leaves
async def push(request: Request) -> Response:
    """The stored model to the registry its name names, as a Docker Model Runner artifact."""
    parsed = await read_request(request, PushRequest)
    store = services_of(request).store
    if store.find(parsed.model) is None:
        raise UnknownModel(parsed.model)
    if parsed.insecure:
        check_insecure(parsed.model, "push")
    return await transfer_answer(
        lambda transfers: push_model(store, parsed.model, transfers=transfers),
        parsed.stream, "retrieving manifest", "pushing", ("pushing manifest",),
    )
