"""Ollama's model routes: version, tags, ps, show, pull and push (NDJSON progress), delete and
copy. (Create and blobs: create.py.)

Also here: the fields of ``/api/show`` that come from how a model was created, and the NDJSON
answer of pull and push.
"""

import time
from collections.abc import AsyncGenerator, Callable, Sequence
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from compose_models.runner.api.dmr.transfer_stream import Failed, Finished, LayerProgress, TransferEvent, TransferResponse, run_transfer
from compose_models.runner.api.ollama.schema import CopyRequest, Named, PullRequest, PushRequest
from compose_models.runner.api.ollama.translation import parameters_text
from compose_models.runner.errors import ModelNotFound
from compose_models.runner.http.body import read_request
from compose_models.runner.http.disconnect import stop_when_client_leaves
from compose_models.runner.http.errors import ApiError
from compose_models.runner.http.exchange import check_model_read, may_list
from compose_models.runner.http.streams import json_line
from compose_models.runner.scheduling.context_size import trained_context
from compose_models.runner.scheduling.scheduler import LoadedEngine
from compose_models.runner.services import services_of
from compose_models.runner.upstreams.remote_models import RemoteModel
from compose_models.store import media_types
from compose_models.store.create import stored_settings
from compose_models.store.model import StoredModel
from compose_models.store.pull import pull_model
from compose_models.store.push import push_model
from compose_models.store.reference import listed_name, parse_reference
from compose_models.store.registry_client import is_loopback_registry
from compose_models.store.transfer_progress import Transfers
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
        if model is None or model.id in entries or not may_list(request.scope, [*model.tags, engine.reference]):
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
    tags = model.tags if model is not None else []
    check_model_read(request.scope, parsed.model, [*tags, *map(ollama_name, tags)])
    if model is None:
        raise ModelNotFound(parsed.model)
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
        raise ModelNotFound(parsed.model)
    await services_of(request).scheduler.unload([parsed.model])
    store.remove(parsed.model)
    return Response(status_code=200)


async def copy(request: Request) -> Response:
    parsed = await read_request(request, CopyRequest)
    services_of(request).store.tag(parsed.source, parsed.destination)
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
        raise ModelNotFound(parsed.model)
    if parsed.insecure:
        check_insecure(parsed.model, "push")
    return await transfer_answer(
        lambda transfers: push_model(store, parsed.model, transfers=transfers),
        parsed.stream, "retrieving manifest", "pushing", ("pushing manifest",),
    )


# --- show fields ---
# The fields of ``/api/show`` that come from what a model was created with: its template, system prompt,
# parameters, licenses and messages, and a Modelfile that would create it again.


MAX_TEXT_BYTES = 1 << 20  # of a license or template file, read for the answer


def show_fields(model: StoredModel, name: str) -> dict[str, Any]:
    settings = stored_settings(model)
    gguf = model.config.get("gguf") or {}
    parameters = dict(settings.get("parameters") or {})
    if model.context_size and model.context_size != trained_context(gguf):
        parameters = {"num_ctx": model.context_size, **parameters}
    template = settings.get("template") or _text(model.chat_template_path) or gguf.get("tokenizer.chat_template", "")
    licenses = [_text(path) for path in model.paths_of(media_types.LICENSE)] or [gguf.get("general.license", "")]
    system, messages = settings.get("system", ""), settings.get("messages") or []
    fields = {"modelfile": _modelfile(name, template, system, parameters, licenses, messages),
              "parameters": parameters_text(parameters), "template": template, "license": "\n".join(licenses)}
    if system:
        fields["system"] = system
    if messages:
        fields["messages"] = messages
    return fields


def _modelfile(name: str, template: str, system: str, parameters: dict[str, Any], licenses: list[str],
               messages: list[dict[str, str]]) -> str:  # fmt: skip
    lines = ["# Modelfile generated by compose-models", f"FROM {name}"]
    if template:
        lines.append(f'TEMPLATE """{template}"""')
    if system:
        lines.append(f'SYSTEM """{system}"""')
    lines += [f"PARAMETER {line}" for line in parameters_text(parameters).splitlines()]
    lines += [f'LICENSE """{text}"""' for text in licenses if text]
    lines += [f'MESSAGE {message["role"]} """{message["content"]}"""' for message in messages]
    return "\n".join(lines) + "\n"


def _text(path: Path | None) -> str:
    if path is None:
        return ""
    with open(path, "rb") as file:
        return file.read(MAX_TEXT_BYTES).decode("utf-8", errors="replace")


# --- transfers ---
# Ollama's answer to a registry pull or push: NDJSON status lines as it goes (``stream``, the default),
# or one ``{"status": "success"}``; and the rule for ``insecure``, which both take.


async def transfer_answer(
    work: Callable[[Transfers], object], stream: bool, opening: str, verb: str, closing: Sequence[str]
) -> Response:
    """Run ``work`` in a transfer thread: a line per layer's progress (``{verb} <digest>``) between the
    ``opening`` status and the ``closing`` ones, then ``success``; or the outcome alone without ``stream``."""
    events = run_transfer(work)
    if not stream:
        outcome = [event async for event in events][-1]
        if isinstance(outcome, Failed):
            raise ApiError(outcome.status, outcome.message)
        return JSONResponse({"status": "success"})
    return TransferResponse(_lines(events, opening, verb, closing), media_type="application/x-ndjson")


async def _lines(
    events: AsyncGenerator[TransferEvent, None], opening: str, verb: str, closing: Sequence[str]
) -> AsyncGenerator[bytes, None]:
    try:
        yield json_line({"status": opening})
        async for event in events:
            for status in _statuses(event, verb, closing):
                yield json_line(status)
    finally:
        await events.aclose()


def _statuses(event: TransferEvent, verb: str, closing: Sequence[str]) -> list[dict[str, Any]]:
    if isinstance(event, LayerProgress):
        return [{"status": f"{verb} {event.layer}", "digest": f"sha256:{event.layer}",
                 "total": event.total, "completed": event.done}]
    if isinstance(event, Failed):
        return [{"error": event.message}]
    assert isinstance(event, Finished)
    return [{"status": status} for status in (*closing, "success")]


def check_insecure(model: str, verb: str) -> None:
    """A request may not make a registry elsewhere plain HTTP: anyone who can reach the runner could
    then read or change what it transfers, and see the credentials it sends."""
    registry = parse_reference(model).registry
    if not is_loopback_registry(registry):
        raise ApiError(
            400,
            f"insecure {verb}{'es' if verb.endswith('sh') else 's'} are refused here for {registry}, which is not on "
            f"this machine: plain HTTP is used for loopback registries only. To {verb} over plain HTTP anyway, run "
            f"`compose-models {verb} --insecure {model}`",
        )
