"""The chat page, and the route it calls: POST /chat streams the model's answer as server-sent events.

LLM_URL and LLM_MODEL come from the compose `models:` binding. The browser talks only to this app, which
forwards to the runner. A runner that fails before answering gets the browser an HTTP 502 with the reason,
one that fails in the middle of an answer an `error` event; both are logged."""

import json
import logging
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from openai import APIStatusError, AsyncOpenAI, AsyncStream, OpenAIError
from openai.types.chat import ChatCompletionChunk
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

logging.basicConfig(level=logging.INFO, format="web: %(levelname)s %(message)s")
log = logging.getLogger("web")
logging.getLogger("httpx").setLevel(logging.WARNING)  # the SDK's every request; this app logs its own

if not (os.environ.get("LLM_URL") and os.environ.get("LLM_MODEL")):
    sys.exit("web: LLM_URL and LLM_MODEL are not set: bind the service to a model (`models: [llm]` in compose.yaml)")
LLM_URL, LLM_MODEL = os.environ["LLM_URL"], os.environ["LLM_MODEL"]
MAX_TOKENS = int(os.environ.get("MAX_TOKENS", "256"))
ROLES = ("user", "assistant")
CONVERSATION = 'expected a JSON object {"messages": [{"role": "user", "content": "..."}, ...]}'

# The runner needs no key unless it was started with keys; then compose-models gives this service LLM_API_KEY.
client = AsyncOpenAI(base_url=LLM_URL, api_key=os.environ.get("LLM_API_KEY", "unused"), max_retries=0)


def _messages(body: object) -> list[dict[str, str]]:
    """The conversation the page posted: {"messages": [{"role": "user"|"assistant", "content": "..."}, ...]}."""
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list) or not messages:
        raise ValueError(CONVERSATION)
    for index, message in enumerate(messages):
        if not (isinstance(message, dict) and message.get("role") in ROLES and isinstance(message.get("content"), str)):
            raise ValueError(f"messages[{index}]: expected {{role: user|assistant, content: text}}")
    return [{"role": message["role"], "content": message["content"]} for message in messages]


def _reason(error: Exception) -> str:
    if isinstance(error, APIStatusError):
        return f"HTTP {error.status_code}: {error.message}"
    # The SDK's connection error says only "Connection error."; what it wraps says which and why.
    return f"{error} ({error.__cause__})" if error.__cause__ else str(error) or type(error).__name__


def _event(name: str, data: object) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"  # JSON keeps newlines in the text inside one data line


async def _answer(stream: AsyncStream[ChatCompletionChunk]) -> AsyncIterator[str]:
    chunks = 0
    try:
        async with stream:  # closes the runner's response when the browser goes away, too
            async for chunk in stream:
                text = chunk.choices[0].delta.content if chunk.choices else None
                if text:
                    chunks += 1
                    yield _event("chunk", text)
    except (OpenAIError, httpx.HTTPError) as error:
        log.error("the runner stopped answering after %d chunks: %s", chunks, _reason(error))
        yield _event("error", f"the model runner stopped answering: {_reason(error)}")
        return
    if not chunks:
        log.error("the runner answered with no text")
        yield _event("error", "the model runner answered with no text")
        return
    log.info("answered in %d chunks", chunks)
    yield _event("done", {"chunks": chunks})


async def chat(request: Request) -> Response:
    try:
        body = await request.json()
    except ValueError as error:
        return JSONResponse({"error": f"the body is not JSON ({error}); {CONVERSATION}"}, status_code=400)
    try:
        messages = _messages(body)
    except ValueError as error:
        return JSONResponse({"error": str(error)}, status_code=400)
    log.info("asking %s at %s (%d messages)", LLM_MODEL, LLM_URL, len(messages))
    try:
        # The request is sent and the runner's status read here, so a failure is still an HTTP error.
        stream = await client.chat.completions.create(
            model=LLM_MODEL, messages=messages, max_tokens=MAX_TOKENS, stream=True
        )
    except (OpenAIError, httpx.HTTPError) as error:
        log.error("no answer from %s at %s: %s", LLM_MODEL, LLM_URL, _reason(error))
        return JSONResponse({"error": f"the model runner did not answer: {_reason(error)}"}, status_code=502)
    return StreamingResponse(_answer(stream), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


async def health(request: Request) -> Response:
    return PlainTextResponse(f"ok {LLM_MODEL}\n")


app = Starlette(
    routes=[
        Route("/chat", chat, methods=["POST"]),
        Route("/health", health),
        Mount("/", StaticFiles(directory=Path(__file__).parent / "static", html=True)),
    ]
)
