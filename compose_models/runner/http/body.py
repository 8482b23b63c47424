"""Reading a request's JSON body: at most 10 MiB, an object, and valid against the route's model."""

import json
from typing import Any, TypeVar

import pydantic
from starlette.requests import Request

from compose_models.runner.http.disconnect import mark_body_read
from compose_models.runner.http.errors import ApiError

MAX_BODY_BYTES = 10 * 1024 * 1024

Model = TypeVar("Model", bound=pydantic.BaseModel)


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


async def read_json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object; 413 past the limit (without reading further), 400 if not an object,
    or if it holds what cannot be sent on to an engine (NaN, unpaired UTF-16 surrogates)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(413, "request too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise ApiError(413, "request too large")
    mark_body_read(request)
    try:
        payload = json.loads(body or b"null", parse_constant=_refuse_constant)
        json.dumps(payload, ensure_ascii=False).encode()
    except (ValueError, UnicodeError):
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


async def read_request(request: Request, model: type[Model]) -> Model:
    return validated(model, await read_json_object(request))


def as_payload(parsed: pydantic.BaseModel) -> dict[str, Any]:
    """A validated request as JSON again: the fields the client sent (values coerced to their types, so
    ``3.0`` tokens become ``3``), and fields the model does not name passed on as they came."""
    return parsed.model_dump(mode="json", by_alias=True, exclude_unset=True)
