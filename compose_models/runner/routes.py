"""The runner's route table: every path it serves, in which API's shapes, by which handler, with which
request model, and whether an engine answers it. The app's routes, ``/openapi.json`` and the tap at
the front (which bodies to read, record and meter) all derive from this one list."""

import functools
import re
from collections.abc import Iterator

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path

from compose_models.runner.api.anthropic import routes as anthropic
from compose_models.runner.api.anthropic.schema import CountTokensRequest, MessagesRequest
from compose_models.runner.api.dmr import models as dmr_models
from compose_models.runner.api.dmr import routes as dmr
from compose_models.runner.api.dmr.schema import (
    ConfigureRequest,
    CreateRequest,
    LoadRequest,
    ReleaseRequest,
    UnloadRequest,
)
from compose_models.runner.api.ollama import create as ollama_create
from compose_models.runner.api.ollama import models as ollama_models
from compose_models.runner.api.ollama import routes as ollama
from compose_models.runner.api.ollama.schema import (
    ChatRequest,
    CopyRequest,
    CreateModelRequest,
    EmbeddingsRequest,
    EmbedRequest,
    GenerateRequest,
    Named,
    PullRequest,
    PushRequest,
)
from compose_models.runner.api.openai import routes as openai
from compose_models.runner.api.openai.schema import (
    ChatCompletionRequest,
    CompletionRequest,
    EmbeddingRequest,
    RerankRequest,
)
from compose_models.runner.api.responses import routes as responses
from compose_models.runner.api.responses.schema import ResponsesRequest
from compose_models.runner.http.dialects import Dialect, dialect_of
from compose_models.runner.http.endpoint import JSON, NDJSON, SSE, TEXT, Endpoint, Handler, flag_set
from compose_models.runner.http.errors import ApiError
from compose_models.runner.http.exchange import RouteKind
from compose_models.runner.http.openapi import openapi_endpoint
from compose_models.runner.observability.metrics import metrics_endpoint
from compose_models.runner.observability.records import requests_endpoint
from compose_models.runner.reach.proof import REACH_PATH, reach_endpoint

KNOWN_BACKENDS = ("llama.cpp",)
OPENAI_PREFIXES = ("/engines/v1", "/v1", "/engines/{backend}/v1")
ANTHROPIC_PREFIXES = ("/anthropic/v1", *OPENAI_PREFIXES)
# Docker Model Runner's /rerank and /score (under /engines and /engines/{backend}, and at the root), and
# llama-server's /v1/rerank under each OpenAI prefix.
RERANK_PREFIXES = ("", "/engines", *OPENAI_PREFIXES, "/engines/{backend}")  # the pattern after /engines/v1
OpenAI, Anthropic, Ollama, DMR = Dialect.OPENAI, Dialect.ANTHROPIC, Dialect.OLLAMA, Dialect.DMR


def _known_backend_only(handler: Handler) -> Handler:
    """``/engines/{backend}/v1/...``: Docker Model Runner answers 404 for a backend it does not have."""

    @functools.wraps(handler)
    async def checked(request: Request) -> Response:
        backend = request.path_params.get("backend")
        if backend not in KNOWN_BACKENDS:  # raised, so it is answered in the route's shape (Anthropic's too)
            raise ApiError(404, f"backend {backend!r} not found (this runner has {', '.join(KNOWN_BACKENDS)})")
        return await handler(request)

    return checked


def _under(prefix: str, handler: Handler) -> Handler:
    return _known_backend_only(handler) if "{backend}" in prefix else handler


def _endpoints() -> Iterator[Endpoint]:
    for prefix in OPENAI_PREFIXES:
        yield from (
            Endpoint("GET", f"{prefix}/models", OpenAI, _under(prefix, openai.list_models), "List models (OpenAI)"),
            Endpoint("GET", f"{prefix}/models/{{name:path}}", OpenAI, _under(prefix, openai.get_model), "Get a model (OpenAI)"),
            Endpoint("POST", f"{prefix}/chat/completions", OpenAI, _under(prefix, openai.chat_completions),
                     "Chat completion", ChatCompletionRequest, inference=True, answers=(JSON, SSE)),
            Endpoint("POST", f"{prefix}/completions", OpenAI, _under(prefix, openai.completions),
                     "Text completion", CompletionRequest, inference=True, answers=(JSON, SSE)),
            Endpoint("POST", f"{prefix}/embeddings", OpenAI, _under(prefix, openai.embeddings),
                     "Embeddings", EmbeddingRequest, inference=True),
            Endpoint("POST", f"{prefix}/responses", OpenAI, _under(prefix, responses.create_response),
                     "Create a response (OpenAI Responses)", ResponsesRequest, inference=True, answers=(JSON, SSE)),
            Endpoint("GET", f"{prefix}/responses/{{response_id}}", OpenAI, _under(prefix, responses.retrieve_response),
                     "Get a stored response (OpenAI Responses)"),
            Endpoint("DELETE", f"{prefix}/responses/{{response_id}}", OpenAI, _under(prefix, responses.delete_response),
                     "Delete a stored response (OpenAI Responses)"),
            Endpoint("GET", f"{prefix}/responses/{{response_id}}/input_items", OpenAI,
                     _under(prefix, responses.list_input_items), "A stored response's input items (OpenAI Responses)",
                     query=("order", "limit", "after")),
        )  # fmt: skip
    for prefix in RERANK_PREFIXES:
        for action in ("rerank", "score"):
            yield Endpoint("POST", f"{prefix}/{action}", OpenAI, _under(prefix, openai.rerank),
                           "Rerank documents by relevance to a query (Jina's and Cohere's shape)", RerankRequest,
                           inference=True)  # fmt: skip
    for prefix in ANTHROPIC_PREFIXES:
        yield from (
            Endpoint("POST", f"{prefix}/messages", Anthropic, _under(prefix, anthropic.messages),
                     "Create a message (Anthropic)", MessagesRequest, inference=True, answers=(JSON, SSE)),
            Endpoint("POST", f"{prefix}/messages/count_tokens", Anthropic, _under(prefix, anthropic.count_tokens),
                     "Count tokens (Anthropic)", CountTokensRequest, inference=True),
        )  # fmt: skip
    yield from (
        Endpoint("POST", "/api/chat", Ollama, ollama.chat, "Chat (Ollama)", ChatRequest, inference=True,
                 answers=(JSON, NDJSON)),
        Endpoint("POST", "/api/generate", Ollama, ollama.generate, "Generate (Ollama)", GenerateRequest,
                 inference=True, answers=(JSON, NDJSON)),
        Endpoint("POST", "/api/embed", Ollama, ollama.embed_route, "Embed (Ollama)", EmbedRequest, inference=True),
        Endpoint("POST", "/api/embeddings", Ollama, ollama.embeddings_route, "Embedding, legacy (Ollama)",
                 EmbeddingsRequest, inference=True),
        Endpoint("GET", "/api/version", Ollama, ollama_models.version, "Version (Ollama)"),
        Endpoint("GET", "/api/tags", Ollama, ollama_models.tags, "Local models (Ollama)"),
        Endpoint("GET", "/api/ps", Ollama, ollama_models.ps, "Loaded models (Ollama)"),
        Endpoint("POST", "/api/show", Ollama, ollama_models.show, "Model details (Ollama)", Named),
        Endpoint("POST", "/api/pull", Ollama, ollama_models.pull, "Pull a model (Ollama)", PullRequest,
                 answers=(JSON, NDJSON), management=True),
        Endpoint("POST", "/api/push", Ollama, ollama_models.push, "Push a model (Ollama)", PushRequest,
                 answers=(JSON, NDJSON), management=True),
        Endpoint("POST", "/api/create", Ollama, ollama_create.create, "Create a model (Ollama)", CreateModelRequest,
                 answers=(JSON, NDJSON), management=True),
        Endpoint("HEAD", "/api/blobs/{digest}", Ollama, ollama_create.has_blob, "Whether a blob exists (Ollama)",
                 answers=(), management=True),
        Endpoint("POST", "/api/blobs/{digest}", Ollama, ollama_create.upload_blob, "Upload a blob (Ollama)",
                 answers=(), status="201", management=True),
        Endpoint("DELETE", "/api/delete", Ollama, ollama_models.delete, "Delete a model (Ollama)", Named,
                 management=True),
        Endpoint("POST", "/api/copy", Ollama, ollama_models.copy, "Copy a model (Ollama)", CopyRequest,
                 management=True),
        Endpoint("GET", "/", DMR, dmr.root, "Liveness", answers=(TEXT,)),
        Endpoint("GET", "/anthropic", Anthropic, anthropic.root, "Liveness of the Anthropic API (Claude Code probes it)",
                 answers=(TEXT,)),
        Endpoint("GET", "/version", DMR, dmr.version, "Runner version"),
        Endpoint("GET", "/metrics", DMR, metrics_endpoint, "Prometheus metrics", answers=(TEXT,)),
        Endpoint("GET", "/openapi.json", DMR, openapi_endpoint, "This document"),
        Endpoint("GET", "/models", DMR, dmr_models.list_models, "Local models (Docker Model Runner)"),
        Endpoint("POST", "/models/create", DMR, dmr_models.create_model, "Pull a model", CreateRequest,
                 answers=(JSON, TEXT), management=True),
        Endpoint("POST", "/models/{name:path}/tag", DMR, dmr_models.tag, "Tag a model", status="201",
                 required_query=("repo", "tag"), management=True),
        Endpoint("POST", "/models/{name:path}/push", DMR, dmr_models.push, "Push a model", answers=(JSON, TEXT),
                 management=True),
        Endpoint("GET", "/models/{name:path}", DMR, dmr_models.get_model, "Get a model", query=("remote",),
                 management_flag="remote"),
        Endpoint("DELETE", "/models/{name:path}", DMR, dmr_models.delete_model, "Delete a model", query=("force",),
                 management=True),
        # Without a key: the health check every CLI verb makes, and the reach probe's proof (containers
        # probe before they have a key).
        Endpoint("GET", "/engines/status", DMR, dmr.engines_status, "Backend status", keyless=True),
        Endpoint("GET", REACH_PATH, DMR, reach_endpoint, "Proof that this runner answered (an HMAC of the challenge)",
                 answers=(TEXT,), required_query=("challenge",), keyless=True),
        Endpoint("GET", "/engines/ps", DMR, dmr.engines_ps, "Loaded engines", query=("engine",),
                 management_flag="engine"),
        Endpoint("GET", "/engines/df", DMR, dmr.engines_df, "Disk usage"),
        Endpoint("GET", "/engines/requests", DMR, requests_endpoint, "Recent requests per model",
                 answers=(JSON, SSE), query=("model", "include_existing"), management=True),
        Endpoint("POST", "/engines/unload", DMR, dmr.unload, "Unload engines", UnloadRequest,
                 management=True),
        Endpoint("POST", "/engines/_load", DMR, dmr.load, "Load a model now, kept while a Compose project is up",
                 LoadRequest, management=True),
        Endpoint("POST", "/engines/_release", DMR, dmr.release, "A Compose project is down: release its models",
                 ReleaseRequest, management=True),
    )  # fmt: skip
    for prefix in ("/engines", "/engines/{backend}"):
        yield Endpoint("GET", f"{prefix}/_configure", DMR, dmr.configurations, "Model configurations", query=("model",))
        yield Endpoint("POST", f"{prefix}/_configure", DMR, dmr.configure, "Configure a model", ConfigureRequest,
                       answers=(), status="202", management=True)  # fmt: skip
    # Docker Model Runner answers any other POST under a model's name (an action it lacks) itself.
    yield Endpoint("POST", "/models/{name:path}", DMR, dmr_models.unknown_action, "Unknown model action",
                   answers=(TEXT,), documented=False)


ENDPOINTS: tuple[Endpoint, ...] = tuple(_endpoints())


class RouteTable:
    """Which row of the table a request is for, found before any handler runs (the tap's question)."""

    def __init__(self, endpoints: tuple[Endpoint, ...] = ENDPOINTS) -> None:
        self._static: dict[tuple[str, str], Endpoint] = {}
        self._patterns: list[tuple[str, re.Pattern[str], Endpoint]] = []
        for endpoint in endpoints:
            if "{" in endpoint.path:
                self._patterns.append((endpoint.method, compile_path(endpoint.path)[0], endpoint))
            else:
                self._static.setdefault((endpoint.method, endpoint.path), endpoint)

    def kind(self, method: str, path: str, query: str = "") -> RouteKind:
        """The kind of a request for ``path`` with ``query`` (its raw query string): some queries (``?remote``)
        make a route management."""
        found = self._endpoint(method, path)
        if found is None:
            return RouteKind(dialect_of(path))
        flag = found.management_flag
        management = found.management or (flag is not None and flag_set(QueryParams(query), flag))
        return RouteKind(found.dialect, found.inference, found.keyless, management)

    def _endpoint(self, method: str, path: str) -> Endpoint | None:
        found = self._static.get((method, path))
        if found is not None:
            return found
        for pattern_method, pattern, endpoint in self._patterns:
            if pattern_method == method and pattern.match(path):
                return endpoint
        return None
