"""A request's JSON body: at most 10 MiB, at most 128 levels deep, an object, and valid against the
route's model; read once."""

import json
import math
from typing import Any, TypeVar

import pydantic
from starlette.requests import Request
from starlette.types import Receive

from compose_models.runner.http.disconnect import mark_body_read
from compose_models.runner.http.errors import ApiError
from compose_models.runner.http.exchange import exchange_of

MAX_BODY_BYTES = 10 * 1024 * 1024
# Deeper bodies break what comes after the parser: pydantic stops serialising past 256 levels and
# json stops parsing (RecursionError) near 1000. Real requests stay far below 128: OpenAI's structured
# outputs allow 10 levels of schema nesting, about 25 levels of the body. The margin left below 256 is
# for the translations, which wrap a value in a few levels more.
MAX_DEPTH = 128

Model = TypeVar("Model", bound=pydantic.BaseModel)


async def read_json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object: as the tap at the front read it, or read here (routes the tap does
    not read); 413 past the limit (without reading further), 400 if not an object."""
    exchange = exchange_of(request.scope)
    read = exchange.body if exchange is not None else None
    if read is not None and (read.payload is not None or read.error is not None):
        mark_body_read(request)
        if read.payload is None:
            raise ApiError(400, str(read.error))
        return read.payload
    body = await read_body(request.headers.get("content-length", ""), request.receive)
    mark_body_read(request)
    payload, problem = parse_object(body)
    if payload is None:
        raise ApiError(400, str(problem))
    return payload


async def read_body(declared_length: str, receive: Receive) -> bytes:
    """The whole body; 413 past ``MAX_BODY_BYTES``, declared or read, without reading further."""
    if declared_length.isdigit() and int(declared_length) > MAX_BODY_BYTES:
        raise ApiError(413, "request too large")
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ApiError(413, "request too large")
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def parse_object(body: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """``body`` as a JSON object, or why it is not one. Also refused is what cannot be sent on to an
    engine: NaN, infinity, and unpaired UTF-16 surrogates, escaped (looked for only when the body
    escapes one) or as raw bytes (which ``json.loads`` of bytes lets through; strict UTF-8 does not)."""
    too_deep = f"request body is nested more than {MAX_DEPTH} levels deep"
    try:
        payload = json.loads(body.decode("utf-8-sig") or "null", parse_constant=_refuse_constant, parse_float=_finite)
    except RecursionError:
        return None, too_deep
    except (ValueError, UnicodeError):
        return None, "request body is not valid JSON"
    if body.count(b"[") + body.count(b"{") > MAX_DEPTH and _deeper_than(MAX_DEPTH, payload):
        return None, too_deep
    try:
        if b"\\u" in body and b"\\ud" in body.lower():
            json.dumps(payload, ensure_ascii=False).encode()
    except UnicodeError:
        return None, "request body is not valid JSON"
    if not isinstance(payload, dict):
        return None, "request body must be a JSON object"
    return payload, None


def _deeper_than(limit: int, value: Any) -> bool:
    """Whether ``value`` nests more than ``limit`` arrays and objects, one level at a time (a walk of
    the containers only, so no recursion of its own)."""
    level = [value] if isinstance(value, (dict, list)) else []
    for _ in range(limit):
        level = [
            child
            for container in level
            for child in (container.values() if isinstance(container, dict) else container)
            if isinstance(child, (dict, list))
        ]
        if not level:
            return False
    return True


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    """A number too large for a float (``1e999``) would reach the engine as ``Infinity``."""
    number = float(text)
    if math.isinf(number):
        raise ValueError(f"{text} is out of range")
    return number


def validated(model: type[Model], payload: dict[str, Any]) -> Model:
    """``payload`` parsed as ``model``; the first problem becomes a 400 naming the field."""
    try:
        return model.model_validate(payload)
    except pydantic.ValidationError as error:
        # Of a union's members, the one that matched furthest; at a tie, one whose type the value has.
        problem = max(error.errors(), key=lambda found: (len(_field_path(payload, found["loc"])),
                                                          not found["type"].endswith("_type")))  # fmt: skip
        path, message = _field_path(payload, problem["loc"]), problem["msg"]
        field = ".".join(path) or None
        raise ApiError(400, f"{field}: {message}" if field else message, param=field) from None


def _field_path(payload: Any, location: tuple[int | str, ...]) -> list[str]:
    """The fields and indices of ``location`` that are in ``payload`` (and a missing field at its end),
    without the names pydantic gives the members of a union (``str``, ``list[...]``, a tag)."""
    path: list[str] = []
    value = payload
    for position, part in enumerate(location):
        if isinstance(value, dict) and part in value:  # noqa: SIM114 - two branches, so the type checker narrows each
            value = value[part]
        elif isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
            value = value[part]
        elif not (isinstance(value, dict) and position == len(location) - 1):
            continue
        path.append(str(part))
    return path


async def read_request(request: Request, model: type[Model]) -> Model:
    return validated(model, await read_json_object(request))


async def read_request_payload(request: Request, model: type[Model]) -> tuple[Model, dict[str, Any]]:
    return validated_payload(model, await read_json_object(request))


def validated_payload(model: type[Model], payload: dict[str, Any]) -> tuple[Model, dict[str, Any]]:
    """``payload`` validated as ``model``, and the payload to pass on. That is ``payload`` itself (the very
    object the body reader parsed) when validating it changed nothing, which strict validation tells: it
    coerces no value (no ``3.0`` to ``3``, no ``"true"`` to ``True``). Identity then tells the engine call
    that the client's own bytes may go on. Else it is the validated fields as JSON again (``as_payload``).
    For request models whose validators only check, never change, what they are given."""
    try:
        return model.model_validate(payload, strict=True), payload
    except pydantic.ValidationError:
        parsed = validated(model, payload)  # the lax validation's errors are the ones a client is told
        return parsed, as_payload(parsed)


def as_payload(parsed: pydantic.BaseModel) -> dict[str, Any]:
    """A validated request as JSON again: the fields the client sent (values coerced to their types, so
    ``3.0`` tokens become ``3``), and fields the model does not name passed on as they came."""
    return parsed.model_dump(mode="json", by_alias=True, exclude_unset=True)
