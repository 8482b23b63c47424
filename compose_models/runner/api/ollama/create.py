"""``POST /api/create``: a model from a GGUF uploaded to ``/api/blobs`` or from a stored model, with a
system prompt, parameters, a template, licenses and messages, stored as a Docker Model Runner artifact.

``num_ctx`` becomes the artifact's context size; a Jinja template becomes its chat template layer,
which every engine applies. Ollama's own (Go) template syntax cannot be given to the engines: such a
template is kept for ``/api/show``, and the model's own chat template stays in use. The system prompt,
messages and other parameters are applied by the Ollama routes (see translation.py).

Also here: the Modelfile parser, and ``HEAD``/``POST /api/blobs``, the uploads ``/api/create`` uses.
"""

import asyncio
import re
import shutil
from dataclasses import dataclass, field
from typing import Any, NoReturn

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from compose_models.errors import UserError
from compose_models.runner.api.ollama.schema import CreateModelRequest, Options
from compose_models.runner.api.ollama.translation import checked_parameters
from compose_models.runner.http.body import read_request, validated
from compose_models.runner.http.disconnect import mark_body_read
from compose_models.runner.http.errors import ApiError, storage_failure
from compose_models.runner.http.streams import json_line
from compose_models.runner.scheduling.context_size import check_context_size, trained_context
from compose_models.runner.services import services_of
from compose_models.store.blobs import BlobUpload
from compose_models.store.create import Check, Recipe, create_model, stored_settings
from compose_models.store.reference import parse_reference
from compose_models.store.store import ModelStore

_GO_TEMPLATE = re.compile(r"\{\{-?\s*(?:\.|(?:if|range|with|else|end|template|define|block)\b)")
GO_TEMPLATE_NOTE = ("the template is in Ollama's Go template syntax, which the engines cannot apply: it is kept, "
                    "and the model's own chat template is used")  # fmt: skip


async def create(request: Request) -> Response:
    parsed = await read_request(request, CreateModelRequest)
    store = services_of(request).store
    try:
        parse_reference(parsed.model)
    except UserError as error:  # by hand: the message names the request's field
        raise ApiError(400, f"model: {error}") from None
    statuses = ["parsing modelfile"] if parsed.modelfile is not None else []
    recipe = _recipe(parsed, store, statuses)
    await asyncio.to_thread(create_model, store, recipe, parsed.model, statuses.append, _context_check(recipe))
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


def _base(parsed: CreateModelRequest, modelfile: "Modelfile") -> tuple[str | None, dict[str, str]]:
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


# --- modelfile ---
# The ``modelfile`` string older Ollama clients send to ``/api/create``: FROM, PARAMETER, TEMPLATE,
# SYSTEM, LICENSE and MESSAGE, as Ollama's parser reads them (commands in any case, ``#`` comments, values
# bare to the end of the line, ``"quoted"`` or ``"""triple-quoted"""`` over several lines).
# Any other command is refused, naming its line.


_COMMAND = re.compile(r"[ \t]*([A-Za-z]+)[ \t]*")
_WORD = re.compile(r"(\S+)[ \t]*")
SUPPORTED = ("FROM", "PARAMETER", "TEMPLATE", "SYSTEM", "LICENSE", "MESSAGE")


@dataclass
class Modelfile:
    base: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)  # values as written; ``stop`` a list
    template: str | None = None
    system: str | None = None
    licenses: list[str] = field(default_factory=list)
    messages: list[dict[str, str]] = field(default_factory=list)


def parse_modelfile(text: str) -> Modelfile:
    parsed = Modelfile()
    reader = _Reader(text)
    while reader.next_line():
        command = reader.command()
        if command == "PARAMETER":
            name, value = reader.word("a parameter name"), reader.value()
            if name == "stop":
                parsed.parameters.setdefault("stop", []).append(value)
            else:
                parsed.parameters[name] = value
        elif command == "MESSAGE":
            role = reader.word("a role (system, user or assistant)")
            if role not in ("system", "user", "assistant"):
                reader.fail(f"MESSAGE role {role!r}: expected system, user or assistant")
            parsed.messages.append({"role": role, "content": reader.value()})
        elif command == "FROM":
            parsed.base = reader.value()
        elif command == "TEMPLATE":
            parsed.template = reader.value()
        elif command == "SYSTEM":
            parsed.system = reader.value()
        else:
            parsed.licenses.append(reader.value())
        reader.end_of_line()
    if parsed.base is None:
        raise ApiError(400, "modelfile: no FROM line: expected FROM <model name> or FROM @sha256:<digest of a blob>")
    return parsed


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text.replace("\r\n", "\n")
        self.at = 0

    @property
    def line(self) -> int:
        return self.text.count("\n", 0, self.at) + 1

    def fail(self, problem: str) -> NoReturn:
        raise ApiError(400, f"modelfile line {self.line}: {problem}")

    def next_line(self) -> bool:
        """Past blank and comment lines, to the next command; False at the end."""
        while self.at < len(self.text):
            end = self.text.find("\n", self.at)
            end = len(self.text) if end < 0 else end
            line = self.text[self.at:end].strip()
            if line and not line.startswith("#"):
                return True
            self.at = end + 1
        return False

    def command(self) -> str:
        match = _COMMAND.match(self.text, self.at)
        word = match[1].upper() if match else self.text[self.at:].split(None, 1)[0]
        if match is None or word not in SUPPORTED:  # a supported word is one _COMMAND matched
            self.fail(f"{word} is not supported here: expected one of {', '.join(SUPPORTED)}")
        self.at = match.end()
        return word

    def word(self, what: str) -> str:
        match = _WORD.match(self.text, self.at)
        if not match or "\n" in match[1]:
            self.fail(f"expected {what}")
        self.at = match.end()
        return match[1]

    def value(self) -> str:
        for quote in ('"""', '"'):
            if self.text.startswith(quote, self.at):
                start = self.at + len(quote)
                end = self.text.find(quote, start)
                if end < 0:
                    self.fail(f"the value opened with {quote} is never closed")
                self.at = end + len(quote)
                return self.text[start:end]
        end = self.text.find("\n", self.at)
        end = len(self.text) if end < 0 else end
        value, self.at = self.text[self.at:end].strip(), end
        if not value:
            self.fail("expected a value after the command")
        return value

    def end_of_line(self) -> None:
        end = self.text.find("\n", self.at)
        end = len(self.text) if end < 0 else end
        if self.text[self.at:end].strip():
            self.fail(f"unexpected text after the value: {self.text[self.at:end].strip()!r}")
        self.at = end + 1


# --- blobs ---
# ``HEAD`` and ``POST /api/blobs/sha256:<hex>``: whether the store has a blob, and uploading one (the
# files of ``/api/create``), streamed to disk while it is hashed and kept only if the digest matches.
#
# The digest is checked before anything touches the file system (it becomes the blob's file name). An
# upload must leave ``RESERVED_BYTES`` free on the store's disk: a body declared larger is refused before
# it is read, and one that grows past that is stopped.


_DIGEST = re.compile(r"sha256[:-]([0-9a-fA-F]{64})")
RESERVED_BYTES = 1 << 30  # left free for the store's manifests, the index and everything else on the disk
CHECK_ROOM_EVERY_BYTES = 64 << 20


def store_digest(text: str) -> str | None:
    """``text`` (``sha256:<hex>`` or Ollama's ``sha256-<hex>``) as the store names blobs; None if not one."""
    match = _DIGEST.fullmatch(text)
    return f"sha256:{match[1].lower()}" if match else None


def blob_digest(request: Request) -> str:
    """The path's digest, as the store names blobs; 400 for anything else."""
    text = request.path_params["digest"]
    digest = store_digest(text)
    if digest is None:
        raise ApiError(400, f"invalid digest {text[:100]!r}: expected sha256:<64 hex characters>")
    return digest


async def has_blob(request: Request) -> Response:
    digest = blob_digest(request)
    store = services_of(request).store
    if not store.blobs.has(digest):
        raise ApiError(404, f"blob {digest} not found")
    return Response(status_code=200)


async def upload_blob(request: Request) -> Response:
    """201 once stored; 200 without reading the body if the store already has the blob."""
    digest = blob_digest(request)
    store = services_of(request).store
    if store.blobs.has(digest):
        return Response(status_code=200)
    declared = request.headers.get("content-length", "")
    if declared.isdigit():
        _check_room(store, int(declared))
    try:
        with store.blobs.upload(digest) as upload:
            await _receive(request, upload, store)
            await asyncio.to_thread(upload.finish)  # its fsync of a large file takes a while
    except OSError as error:
        raise storage_failure(error, f"cannot store blob {digest}") from None
    return Response(status_code=201)


async def _receive(request: Request, upload: BlobUpload, store: ModelStore) -> None:
    checked_at = 0
    try:
        async for chunk in request.stream():
            upload.write(chunk)
            if upload.size - checked_at >= CHECK_ROOM_EVERY_BYTES:
                checked_at = upload.size
                _check_room(store, 0)
    except ClientDisconnect:
        raise ApiError(499, "the client closed the request before sending the whole blob") from None
    mark_body_read(request)


def _check_room(store: ModelStore, coming: int) -> None:
    free = shutil.disk_usage(store.blobs.directory).free
    if coming > free - RESERVED_BYTES:
        raise ApiError(507, f"not enough disk space for this blob: {free >> 20} MiB free on the store's disk, "
                            f"and {RESERVED_BYTES >> 20} MiB must stay free")  # fmt: skip
