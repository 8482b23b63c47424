"""``/openapi.json``: the runner's routes, with request schemas taken from the models that validate them."""

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from compose_models import __version__
from compose_models.runner.api.anthropic import schema as anthropic
from compose_models.runner.api.dmr import schema as management
from compose_models.runner.api.ollama import schema as ollama
from compose_models.runner.api.openai import schema as openai
from compose_models.runner.http.dialects import Dialect, dialect_of

OPENAI_PREFIXES = ("/engines/v1", "/v1", "/engines/{backend}/v1")
ANTHROPIC_PREFIXES = ("/anthropic/v1", *OPENAI_PREFIXES)
JSON, TEXT, SSE, NDJSON = "application/json", "text/plain", "text/event-stream", "application/x-ndjson"


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    body: type[BaseModel] | None = None
    answers: tuple[str, ...] = (JSON,)
    status: str = "200"
    query: tuple[str, ...] = ()
    required_query: tuple[str, ...] = ()


def _operations() -> list[Operation]:
    operations = []
    for prefix in OPENAI_PREFIXES:
        operations += [
            Operation("get", f"{prefix}/models", "List models (OpenAI)"),
            Operation("get", f"{prefix}/models/{{name}}", "Get a model (OpenAI)"),
            Operation("post", f"{prefix}/chat/completions", "Chat completion", openai.ChatCompletionRequest, (JSON, SSE)),
            Operation("post", f"{prefix}/completions", "Text completion", openai.CompletionRequest, (JSON, SSE)),
            Operation("post", f"{prefix}/embeddings", "Embeddings", openai.EmbeddingRequest),
        ]
    for prefix in ANTHROPIC_PREFIXES:
        operations += [
            Operation("post", f"{prefix}/messages", "Create a message (Anthropic)", anthropic.MessagesRequest, (JSON, SSE)),
            Operation("post", f"{prefix}/messages/count_tokens", "Count tokens (Anthropic)", anthropic.CountTokensRequest),
        ]
    return operations + [
        Operation("post", "/api/chat", "Chat (Ollama)", ollama.ChatRequest, (JSON, NDJSON)),
        Operation("post", "/api/generate", "Generate (Ollama)", ollama.GenerateRequest, (JSON, NDJSON)),
        Operation("post", "/api/embed", "Embed (Ollama)", ollama.EmbedRequest),
        Operation("post", "/api/embeddings", "Embedding, legacy (Ollama)", ollama.EmbeddingsRequest),
        Operation("get", "/api/version", "Version (Ollama)"),
        Operation("get", "/api/tags", "Local models (Ollama)"),
        Operation("get", "/api/ps", "Loaded models (Ollama)"),
        Operation("post", "/api/show", "Model details (Ollama)", ollama.Named),
        Operation("post", "/api/pull", "Pull a model (Ollama)", ollama.PullRequest, (JSON, NDJSON)),
        Operation("delete", "/api/delete", "Delete a model (Ollama)", ollama.Named),
        Operation("post", "/api/copy", "Copy a model (Ollama)", ollama.CopyRequest),
        Operation("get", "/", "Liveness", answers=(TEXT,)),
        Operation("get", "/version", "Runner version"),
        Operation("get", "/metrics", "Prometheus metrics", answers=(TEXT,)),
        Operation("get", "/openapi.json", "This document"),
        Operation("get", "/models", "Local models (Docker Model Runner)"),
        Operation("post", "/models/create", "Pull a model", management.CreateRequest, (JSON, TEXT)),
        Operation("get", "/models/{name}", "Get a model", query=("remote",)),
        Operation("delete", "/models/{name}", "Delete a model", query=("force",)),
        Operation("post", "/models/{name}/tag", "Tag a model", status="201", required_query=("repo", "tag")),
        Operation("post", "/models/{name}/push", "Push a model", answers=(JSON, TEXT)),
        Operation("get", "/engines/status", "Backend status"),
        Operation("get", "/engines/reach", "Proof that this runner answered (an HMAC of the challenge)",
                  answers=(TEXT,), required_query=("challenge",)),
        Operation("get", "/engines/ps", "Loaded engines"),
        Operation("get", "/engines/df", "Disk usage"),
        Operation("get", "/engines/requests", "Recent requests per model", answers=(JSON, SSE),
                  query=("model", "include_existing")),
        Operation("post", "/engines/unload", "Unload engines", management.UnloadRequest),
    ] + [
        operation
        for prefix in ("/engines", "/engines/{backend}")
        for operation in (
            Operation("get", f"{prefix}/_configure", "Model configurations", query=("model",)),
            Operation("post", f"{prefix}/_configure", "Configure a model", management.ConfigureRequest, (), "202"),
        )
    ]


def _error_schema(dialect: Dialect) -> dict[str, Any]:
    text = {"type": "string"}
    if dialect is Dialect.OPENAI:
        error = {"type": "object", "properties": {"message": text, "type": text}, "required": ["message", "type"]}
        return {"type": "object", "properties": {"error": error}, "required": ["error"]}
    if dialect is Dialect.ANTHROPIC:
        error = {"type": "object", "properties": {"type": text, "message": text}, "required": ["type", "message"]}
        return {"type": "object", "properties": {"type": {"const": "error"}, "error": error}, "required": ["type", "error"]}
    return {"type": "object", "properties": {"error": text}, "required": ["error"]}


def _operation(operation: Operation, schema_refs: dict[type[BaseModel], dict[str, Any]]) -> dict[str, Any]:
    parameters = [
        {"name": name[1:-1], "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for name in ("{backend}", "{name}") if name in operation.path
    ] + [
        {"name": name, "in": "query", "required": name in operation.required_query, "schema": {"type": "string"}}
        for name in operation.query + operation.required_query
    ]
    success = {"description": operation.summary}
    if operation.answers:
        success["content"] = {media: {} for media in operation.answers}
    dialect = dialect_of(operation.path)
    error_content = {TEXT: {}} if dialect is Dialect.DMR else {JSON: {"schema": _error_schema(dialect)}}
    document: dict[str, Any] = {
        "summary": operation.summary,
        "tags": [dialect.value],
        "responses": {operation.status: success, "default": {"description": "An error", "content": error_content}},
    }
    if parameters:
        document["parameters"] = parameters
    if operation.body is not None:
        document["requestBody"] = {"required": True, "content": {JSON: {"schema": schema_refs[operation.body]}}}
    return document


def openapi_document() -> dict[str, Any]:
    operations = _operations()
    bodies = list(dict.fromkeys(operation.body for operation in operations if operation.body))
    refs, definitions = models_json_schema(
        [(model, "validation") for model in bodies], ref_template="#/components/schemas/{model}"
    )
    schema_refs = {model: refs[(model, "validation")] for model in bodies}
    paths: dict[str, dict[str, Any]] = {}
    for operation in operations:
        paths.setdefault(operation.path, {})[operation.method] = _operation(operation, schema_refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": "compose-models runner", "version": __version__,
                 "description": "OpenAI, Anthropic and Ollama APIs and Docker Model Runner's management API"},
        "paths": paths,
        "components": {"schemas": definitions.get("$defs", {})},
    }


async def openapi_endpoint(request: Request) -> Response:
    return JSONResponse(openapi_document())
