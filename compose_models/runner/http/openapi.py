"""``/openapi.json``: the route table as OpenAPI, with request schemas taken from the models that validate them."""

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from compose_models import __version__
from compose_models.runner.http.dialects import Dialect
from compose_models.runner.http.endpoint import JSON, TEXT, Endpoint
from compose_models.runner.services import services_of


def _error_schema(dialect: Dialect) -> dict[str, Any]:
    text = {"type": "string"}
    if dialect is Dialect.OPENAI:
        error = {"type": "object", "properties": {"message": text, "type": text}, "required": ["message", "type"]}
        return {"type": "object", "properties": {"error": error}, "required": ["error"]}
    if dialect is Dialect.ANTHROPIC:
        error = {"type": "object", "properties": {"type": text, "message": text}, "required": ["type", "message"]}
        return {"type": "object", "properties": {"type": {"const": "error"}, "error": error}, "required": ["type", "error"]}
    return {"type": "object", "properties": {"error": text}, "required": ["error"]}


def _operation(operation: Endpoint, schema_refs: dict[type[BaseModel], dict[str, Any]]) -> dict[str, Any]:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for name in re.findall(r"\{(\w+)(?::\w+)?\}", operation.path)
    ] + [
        {"name": name, "in": "query", "required": name in operation.required_query, "schema": {"type": "string"}}
        for name in operation.query + operation.required_query
    ]
    success: dict[str, Any] = {"description": operation.summary}
    if operation.answers:
        success["content"] = {media: {} for media in operation.answers}
    dialect = operation.dialect
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


def openapi_document(operations: tuple[Endpoint, ...]) -> dict[str, Any]:
    bodies = list(dict.fromkeys(operation.body for operation in operations if operation.body))
    refs, definitions = models_json_schema(
        [(model, "validation") for model in bodies], ref_template="#/components/schemas/{model}"
    )
    schema_refs = {model: refs[(model, "validation")] for model in bodies}
    paths: dict[str, dict[str, Any]] = {}
    for operation in operations:
        if not operation.documented:
            continue
        path = operation.path.replace(":path}", "}")
        paths.setdefault(path, {})[operation.method.lower()] = _operation(operation, schema_refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": "compose-models runner", "version": __version__,
                 "description": "OpenAI, Anthropic and Ollama APIs and Docker Model Runner's management API"},
        "paths": paths,
        "components": {"schemas": definitions.get("$defs", {})},
    }


async def openapi_endpoint(request: Request) -> Response:
    return JSONResponse(openapi_document(services_of(request).endpoints))
