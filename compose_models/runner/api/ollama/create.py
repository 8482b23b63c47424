"""``POST /api/create``: a model from a GGUF uploaded to ``/api/blobs`` or from a stored model, with a
system prompt, parameters, a template, licenses and messages, stored as a Docker Model Runner artifact.

``num_ctx`` becomes the artifact's context size; a Jinja template becomes its chat template layer,
which every engine applies. Ollama's own (Go) template syntax cannot be given to the engines: such a
template is kept for ``/api/show``, and the model's own chat template stays in use. The system prompt,
messages and other parameters are applied by the Ollama routes (see defaults.py).
"""

import asyncio
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from compose_models.errors import UserError
from compose_models.runner.api.ollama.blobs import store_digest
from compose_models.runner.api.ollama.modelfile import Modelfile, parse_modelfile
from compose_models.runner.api.ollama.parameters import checked_parameters
from compose_models.runner.api.ollama.schema import CreateModelRequest, Options
from compose_models.runner.http.body import read_request, validated
from compose_models.runner.http.errors import ApiError, UnknownModel
from compose_models.runner.http.streams import json_line
from compose_models.runner.scheduling.context_size import check_context_size, trained_context
from compose_models.runner.services import services_of
from compose_models.store.create import Check, Recipe, create_model, stored_settings
from compose_models.store.reference import parse_reference
from compose_models.store.store import ModelNotFound, ModelStore

_GO_TEMPLATE = re.compile(r"\{\{-?\s*(?:\.|(?:if|range|with|else|end|template|define|block)\b)")
GO_TEMPLATE_NOTE = ("the template is in Ollama's Go template syntax, which the engines cannot apply: it is kept, "
                    "and the model's own chat template is used")  # fmt: skip


async def create(request: Request) -> Response:
    parsed = await read_request(request, CreateModelRequest)
    store: ModelStore = services_of(request).store
    try:
        parse_reference(parsed.model)
    except UserError as error:
        raise ApiError(400, f"model: {error}") from None
    statuses = ["parsing modelfile"] if parsed.modelfile is not None else []
    recipe = _recipe(parsed, store, statuses)
    try:
        await asyncio.to_thread(create_model, store, recipe, parsed.model, statuses.append, _context_check(recipe))
    except ModelNotFound:  # deleted meanwhile
        raise UnknownModel(recipe.base_model or parsed.model) from None
    except UserError as error:
        raise ApiError(400, str(error)) from None
    statuses.append("success")
    if not parsed.stream:
        return JSONResponse({"status": "success"})
    return StreamingResponse(iter([json_line({"status": status}) for status in statuses]),
                             media_type="application/x-ndjson")  # fmt: skip


def _recipe(parsed: CreateModelRequest, store: ModelStore, statuses: list[str]) -> Recipe:
    """The request (its Modelfile's lines overridden by its fields) as what the store builds."""
    if parsed.adapters:
        raise ApiError(400, "adapters: LoRA adapters are not supported by this runner")
    if parsed.quantize:
        raise ApiError(400, "quantize: this runner does not quantize models: upload a GGUF quantized as you want it")
    modelfile = parse_modelfile(parsed.modelfile) if parsed.modelfile is not None else Modelfile()
    base, files = _base(parsed, modelfile)
    inherited: dict[str, Any] = {}
    if base is not None:
        model = store.find(base)
        if model is None:
            raise ApiError(404, f"from: model {base!r} not found: pull it first, or create from an uploaded GGUF")
        inherited = stored_settings(model)
    parameters = {
        **inherited.get("parameters", {}),
        **checked_parameters(modelfile.parameters, "modelfile PARAMETER"),
        **checked_parameters(parsed.parameters or {}, "parameters"),
    }
    context_size = parameters.pop("num_ctx", None)
    try:
        validated(Options, parameters)  # as the routes will apply them
    except ApiError as error:
        raise ApiError(400, f"parameters.{error.message}") from None
    settings = {key: value for key, value in inherited.items() if key != "parameters"}
    if parameters:
        settings["parameters"] = dict(sorted(parameters.items()))
    chat_template = _template(_first(parsed.template, modelfile.template), settings, statuses)
    if (system := _first(parsed.system, modelfile.system)) is not None:
        settings["system"] = system
    messages = [{"role": message.role, "content": message.content} for message in parsed.messages or []]
    if messages or modelfile.messages:
        settings["messages"] = messages or modelfile.messages
    licenses = [parsed.license] if isinstance(parsed.license, str) else list(parsed.license or [])
    kept = {key: value for key, value in sorted(settings.items()) if value not in ("", None, [], {})}
    return Recipe(base, files, context_size, [*licenses, *modelfile.licenses], chat_template, kept)


def _base(parsed: CreateModelRequest, modelfile: Modelfile) -> tuple[str | None, dict[str, str]]:
    """The stored model to start from, or the uploaded files (name -> digest)."""
    files = dict(parsed.files or {})
    base = parsed.from_ if parsed.from_ is not None else modelfile.base
    if base is not None and not files and base.startswith("@") and (blob := store_digest(base[1:].strip())):
        return None, {"model.gguf": blob}  # an uploaded blob, as older clients name it
    if base is not None and files:
        raise ApiError(400, "from and files: give one of them: a model to start from, or uploaded GGUF files")
    if base is None and not files:
        raise ApiError(400, "from or files: missing: name a stored model, or GGUF files uploaded to /api/blobs")
    if base is not None and (base.startswith((".", "/", "~")) or base.lower().endswith(".gguf")):
        raise ApiError(400, f"from: {base} is a file path, which the runner does not read: upload the file with POST "
                            "/api/blobs/sha256:<its digest>, then use FROM @sha256:<digest> (or files)")  # fmt: skip
    for name, digest in files.items():
        if not (blob := store_digest(digest)):
            raise ApiError(400, f"files.{name}: {digest!r} is not a blob digest: expected sha256:<64 hex characters>")
        files[name] = blob
    return base, files


def _template(template: str | None, settings: dict[str, Any], statuses: list[str]) -> str | None:
    """A Jinja template, checked, for the chat template layer; a Go template goes to the settings."""
    if template is None:
        return None
    settings.pop("template", None)
    if _GO_TEMPLATE.search(template) or not ("{%" in template or "{{" in template):
        settings["template"] = template
        statuses.append(GO_TEMPLATE_NOTE)
        return None
    import jinja2  # llama-cpp-python's dependency; only needed here

    try:
        jinja2.Environment().parse(template)
    except jinja2.TemplateSyntaxError as error:
        raise ApiError(400, f"template: not a valid Jinja template: {error.message} (line {error.lineno})") from None
    return template


def _context_check(recipe: Recipe) -> Check:
    """``num_ctx`` within the context the model was trained with."""
    return lambda config: check_context_size(
        recipe.context_size, trained_context(config.get("gguf") or {}), "parameters.num_ctx"
    )


def _first(*values: str | None) -> str | None:
    return next((value for value in values if value is not None), None)
