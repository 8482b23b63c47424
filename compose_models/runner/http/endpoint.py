"""One row of the runner's route table: what serves a path, in which API's shapes, and what it reads."""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from compose_models.runner.http.dialects import Dialect

JSON, TEXT, SSE, NDJSON = "application/json", "text/plain", "text/event-stream", "application/x-ndjson"
Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # Starlette's syntax: ``{name:path}`` takes slashes
    dialect: Dialect
    handler: Handler
    summary: str
    body: type[BaseModel] | None = None  # the request model that validates the body
    inference: bool = False  # answered by an engine: the body is read at the front, recorded and metered
    answers: tuple[str, ...] = (JSON,)
    status: str = "200"
    query: tuple[str, ...] = ()
    required_query: tuple[str, ...] = ()
    documented: bool = True  # in /openapi.json
    keyless: bool = False  # answered without an API key even when the runner has keys
    management: bool = False  # changes models or engines, or shows others' requests: admin callers only
    # A query flag that makes a request management (``?remote``: the registry is asked with the host's credentials).
    management_flag: str | None = None


def flag_set(query: Mapping[str, str], name: str) -> bool:
    """Whether the query asks for ``name`` (``?name``, ``?name=1`` or ``?name=true``)."""
    return name in query and query[name] in ("", "1", "true")
