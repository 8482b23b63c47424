"""OpenAI's Responses API (``/v1/responses``), translated to the engines' chat API on the fly, as the
Anthropic dialect is; stored responses are read, listed and deleted by id. The engine is always asked
for a stream, so a streamed answer starts at once, and a whole one is assembled the same way."""

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from compose_models.log import say
from compose_models.runner.api.responses.schema import ResponsesRequest
from compose_models.runner.api.responses.store import ResponseStore, StoredResponse, is_response_id, new_response_id
from compose_models.runner.api.responses.stream import ResponsesStream
from compose_models.runner.api.responses.tools import engine_tools
from compose_models.runner.api.responses.translation import chat_request, echoed_fields, engine_items, input_items
from compose_models.runner.http.body import read_request
from compose_models.runner.http.disconnect import stop_when_client_leaves
from compose_models.runner.http.errors import ApiError, storage_failure
from compose_models.runner.http.exchange import exchange_of
from compose_models.runner.http.streams import event_frame
from compose_models.runner.inference.engine_call import CHAT_PATH, EngineCall, start_engine_call, streaming_response
from compose_models.runner.inference.engine_payload import chat_payload_for_engine
from compose_models.runner.services import services_of

MAX_LISTED_ITEMS = 100
Keep = Callable[[dict[str, Any]], None]  # stores a finished Response (or does nothing, for ``store: false``)


@stop_when_client_leaves
async def create_response(request: Request) -> Response:
    parsed = await read_request(request, ResponsesRequest)
    store = services_of(request).responses
    owner = _owner(request)
    previous = _previous(store, parsed.previous_response_id, owner)
    model = parsed.model or (previous.response.get("model") if previous else None)
    if not model:
        raise ApiError(400, "model: required (or previous_response_id, whose model is then used)", param="model")
    # What is stored is what the engine is shown, so the conversation grows only as the prompt does.
    conversation = [*(engine_items(previous.conversation) if previous else []), *input_items(parsed)]
    tools = engine_tools(parsed.tools)
    echoed = echoed_fields(parsed, model, tools)
    if parsed.store is not False:
        store.check(conversation, echoed)
    payload = chat_payload_for_engine(chat_request(parsed, model, conversation, tools))
    call = await start_engine_call(request, payload, CHAT_PATH)
    translator = ResponsesStream(new_response_id(), echoed, tools)

    def keep(response: dict[str, Any]) -> None:
        if parsed.store is False:
            return
        try:
            if not store.save(response, conversation, owner):
                say(f"response {response['id']} not stored: with its answer it is over {store.folder}'s caps")
        except OSError as error:
            # The caller asked for it stored: saying it was not (a 507, or an error event once streaming)
            # beats an answer whose id a later previous_response_id cannot find.
            say(f"storing response {response['id']} in {store.folder} failed: {error}")
            raise storage_failure(error, f"cannot store response {response['id']} (store: false needs no disk)") from None

    if parsed.stream:
        return streaming_response(call, _events(call, translator, keep), "text/event-stream")
    return JSONResponse(await call.read_whole(_whole_response(call, translator, keep)))


def _owner(request: Request) -> str | None:
    """The key (or service) the gateway let the request in under, whose stored responses alone it sees."""
    exchange = exchange_of(request.scope)
    return exchange.outcome.key_holder if exchange else None


def _previous(store: ResponseStore, response_id: str | None, owner: str | None) -> StoredResponse | None:
    if response_id is None:
        return None
    found = store.find(response_id, owner)
    if found is None:
        raise ApiError(404, f"previous response {response_id!r} not found (not stored, deleted or expired)",
                       param="previous_response_id")  # fmt: skip
    return found


async def _whole_response(call: EngineCall, translator: ResponsesStream, keep: Keep) -> dict[str, Any]:
    async for chunk in call.chunks():
        translator.feed(chunk)
    translator.finish(await call.prompt_tokens(), call.usage.completion)
    response = translator.response()
    await asyncio.to_thread(keep, response)
    return response


async def _events(call: EngineCall, translator: ResponsesStream, keep: Keep) -> AsyncIterator[bytes]:
    for event in translator.start():
        yield event_frame(event["type"], event)
    try:
        async for chunk in call.chunks():
            for event in translator.feed(chunk):
                yield event_frame(event["type"], event)
        events = translator.finish(await call.prompt_tokens(), call.usage.completion)
        await asyncio.to_thread(keep, translator.response())  # stored before the client hears it is done
        for event in events:
            yield event_frame(event["type"], event)
    except ApiError as error:
        event = translator.error(error.message, error.code)
        yield event_frame(event["type"], event)


async def retrieve_response(request: Request) -> Response:
    return JSONResponse(_stored(request).response)


async def delete_response(request: Request) -> Response:
    response_id = _checked_id(request)
    if not services_of(request).responses.delete(response_id, _owner(request)):
        raise _not_found(response_id)
    return JSONResponse({"id": response_id, "object": "response.deleted", "deleted": True})


async def list_input_items(request: Request) -> Response:
    """The conversation a stored response answered, newest first unless ``order=asc``, ``limit`` at a time."""
    items = _stored(request).input_items
    query = request.query_params
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise ApiError(400, f"order: expected 'asc' or 'desc', not {order!r}", param="order")
    limit_text = query.get("limit", "20")
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LISTED_ITEMS:
        raise ApiError(400, f"limit: expected a whole number from 1 to {MAX_LISTED_ITEMS}, not {limit_text!r}", param="limit")
    ordered = items if order == "asc" else items[::-1]
    after = query.get("after")
    if after is not None:
        position = next((i for i, item in enumerate(ordered) if item.get("id") == after), None)
        if position is None:
            raise ApiError(400, f"after: no item {after!r} in this response's input", param="after")
        ordered = ordered[position + 1 :]
    page = ordered[: int(limit_text)]
    return JSONResponse({
        "object": "list", "data": page, "has_more": len(ordered) > len(page),
        "first_id": page[0].get("id") if page else None, "last_id": page[-1].get("id") if page else None,
    })  # fmt: skip


def _checked_id(request: Request) -> str:
    response_id = request.path_params["response_id"]
    if not is_response_id(response_id):
        raise ApiError(400, f"response_id: expected 'resp_' and 32 hex digits, not {response_id[:80]!r}", param="response_id")
    return cast(str, response_id)


def _stored(request: Request) -> StoredResponse:
    response_id = _checked_id(request)
    found = services_of(request).responses.find(response_id, _owner(request))
    if found is None:
        raise _not_found(response_id)
    return cast("StoredResponse", found)


def _not_found(response_id: str) -> ApiError:
    return ApiError(404, f"response {response_id!r} not found (not stored, deleted or expired)", param="response_id")
