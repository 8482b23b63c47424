"""Reading a request's JSON body: at most 10 MiB, an object, and valid against the route's model."""

import json
from typing import Any, TypeVar

import pydantic
from starlette.requests import Request

from compose_models.runner.errors import ApiError

MAX_BODY_BYTES = 10 * 1024 * 1024

Model = TypeVar("Model", bound=pydantic.BaseModel)


async def read_json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object; 413 past the limit (without reading further), 400 if not an object."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(413, "request too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise ApiError(413, "request too large")
    try:
        payload = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "request body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise ApiError(400, "request body must be a JSON object")
    return payload


def validated(model: type[Model], payload: dict[str, Any]) -> Model:
    """``payload`` parsed as ``model``; the first problem becomes a 400 naming the field."""
    try:
        return model.model_validate(payload)
    except pydantic.ValidationError as error:
        problem = error.errors()[0]
        field = ".".join(str(part) for part in problem["loc"]) or None
        raise ApiError(400, f"{field}: {problem['msg']}" if field else problem["msg"], param=field) from None


async def read_request(request: Request, model: type[Model]) -> tuple[Model, dict[str, Any]]:
    """The validated request, and the raw payload (which keeps fields the model does not name)."""
    payload = await read_json_object(request)
    return validated(model, payload), payload
