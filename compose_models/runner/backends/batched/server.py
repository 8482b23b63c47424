"""The batched engine's process: OpenAI's chat and text completions over HTTP on a loopback port.

    python -m compose_models.runner.backends.batched.server --model PATH --alias NAME --port N
        [--context-size N] [--slots N] [--threads N] [--chat-template-file PATH] [--embedding]

Every route but ``/health`` wants ``Authorization: Bearer $COMPOSE_MODELS_ENGINE_KEY``.
"""

import argparse
import asyncio
import hmac
import json
import os
import socket
from pathlib import Path
from typing import Any

import uvicorn
from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from compose_models.runner.backends.batched import KEY_VARIABLE
from compose_models.runner.backends.batched.answers import ChatShape, TextShape, answer
from compose_models.runner.backends.batched.decoder import Decoder
from compose_models.runner.backends.batched.embedding import Embedder
from compose_models.runner.backends.batched.generation import Generation
from compose_models.runner.backends.batched.model import BATCH_SIZE, LoadedModel, load
from compose_models.runner.backends.batched.sampling import Sampling


class BadRequest(Exception):
    pass


def create_app(loaded: LoadedModel, decoder: Decoder, alias: str) -> Starlette:
    def start(body: dict[str, Any], prompt: list[int], top_logprobs: int | None) -> Generation:
        if not prompt:
            raise BadRequest("the prompt is empty")
        room = loaded.context_size - len(prompt)
        if room <= 0:
            raise BadRequest(f"the prompt has {len(prompt)} tokens; the context holds {loaded.context_size}")
        max_tokens = body.get("max_tokens") or body.get("max_completion_tokens") or room
        stop = body.get("stop") or ()
        return Generation(loaded, decoder, prompt, Sampling.from_request(body, _grammar(body)), min(max_tokens, room),
                          (stop,) if isinstance(stop, str) else tuple(stop), top_logprobs)  # fmt: skip

    async def chat_completions(request: Request) -> Response:
        body = await request.json()
        prompt = loaded.chat_prompt(body["messages"], body.get("tools"), body.get("tool_choice"))
        top_logprobs = (body.get("top_logprobs") or 0) if body.get("logprobs") else None
        return await answer(request, body, start(body, prompt, top_logprobs), ChatShape(alias))

    async def completions(request: Request) -> Response:
        body = await request.json()
        prompt_text = body.get("prompt", "")
        if isinstance(prompt_text, list):
            prompt_text = "".join(prompt_text)
        generation = start(body, loaded.tokenize(prompt_text, add_bos=True), body.get("logprobs"))
        return await answer(request, body, generation, TextShape(alias))

    routes = [
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/completions", completions, methods=["POST"]),
    ]
    return _app(routes, alias)


def create_embedding_app(embedder: Embedder, alias: str) -> Starlette:
    async def embeddings(request: Request) -> Response:
        inputs = (await request.json()).get("input", "")
        vectors = [await asyncio.to_thread(embedder.embed, text) for text in ([inputs] if isinstance(inputs, str) else inputs)]
        data = [{"object": "embedding", "index": index, "embedding": vector} for index, (vector, _) in enumerate(vectors)]
        prompt_tokens = sum(count for _, count in vectors)
        usage = {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}
        return JSONResponse({"object": "list", "model": alias, "data": data, "usage": usage})

    return _app([Route("/v1/embeddings", embeddings, methods=["POST"])], alias)


def _app(routes: list[Route], alias: str) -> Starlette:
    """``routes`` with the model list, a health check and OpenAI-shaped 400s."""

    async def models(_: Request) -> Response:
        entry = {"id": alias, "object": "model", "created": 0, "owned_by": "compose-models"}
        return JSONResponse({"object": "list", "data": [entry]})

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def bad_request(_: Request, error: Exception) -> Response:
        return JSONResponse({"error": {"message": str(error), "type": "invalid_request_error", "code": 400}}, 400)

    routes = [*routes, Route("/v1/models", models), Route("/health", health)]
    return Starlette(routes=routes, exception_handlers={BadRequest: bad_request, ValueError: bad_request})


class _RequireKey:
    """Refuse (401) every request to a route but ``/health`` that lacks the key, as llama-server's ``--api-key``."""

    def __init__(self, app: ASGIApp, key: str) -> None:
        self.app = app
        self.expected = f"Bearer {key}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] != "/health":
            given = next((value for name, value in scope["headers"] if name == b"authorization"), b"")
            if not hmac.compare_digest(given, self.expected):
                error = {"error": {"message": "Invalid API Key", "type": "authentication_error", "code": 401}}
                await JSONResponse(error, 401)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _grammar(body: dict[str, Any]) -> str | None:
    """GBNF for ``response_format`` json_object (any JSON, or JSON of its ``schema``) and json_schema."""
    response_format = body.get("response_format") or {}
    kind = response_format.get("type")
    schema = response_format.get("schema")
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
    elif kind != "json_object":
        return None
    if schema is None:
        return JSON_GBNF
    try:
        return LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)._grammar
    except (AssertionError, KeyError, TypeError, ValueError, RecursionError) as error:  # its converter asserts
        raise BadRequest(f"response_format: its JSON schema cannot be turned into a grammar: {error}") from None


def _listening_socket(port: int) -> socket.socket:
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on accepted sockets whose protocol says
    # TCP, and without it each streamed token can wait for the client's delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    return sock


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--alias", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--context-size", type=int, default=4096)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--chat-template-file", type=Path)
    parser.add_argument("--embedding", action="store_true", help="serve /v1/embeddings instead of completions")
    options = parser.parse_args(argv)
    key = os.environ.get(KEY_VARIABLE)
    if not key:
        parser.error(f"${KEY_VARIABLE} must hold the key that requests are to carry")
    template = options.chat_template_file.read_text() if options.chat_template_file else None
    slots = 1 if options.embedding else options.slots
    loaded = load(options.model, options.context_size, slots, options.threads, template, options.embedding)
    if options.embedding:
        _serve(_RequireKey(create_embedding_app(Embedder(loaded), options.alias), key), options.port)
        return
    decoder = Decoder(loaded.context.ctx, loaded.vocab, slots, loaded.context_size, BATCH_SIZE)
    try:
        _serve(_RequireKey(create_app(loaded, decoder, options.alias), key), options.port)
    finally:
        decoder.close()


def _serve(app: ASGIApp, port: int) -> None:
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[_listening_socket(port)])


if __name__ == "__main__":
    main()
