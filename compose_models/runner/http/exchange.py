"""One request and its answer as they pass through the runner (or the gateway's proxy): read once by
the tap at the front, then read, not re-parsed, by every layer behind it.

The tap puts the ``Exchange`` in the scope; the gateway, the handlers and the engine call take what
they need from it and leave what they learn (the caller, the token counts the engine reported)."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from starlette.types import Scope

from compose_models.runner.http.dialects import Dialect

_SCOPE_KEY = "compose_models.exchange"


@dataclass(frozen=True)
class RouteKind:
    """What the front needs to know of a route before it runs: the error envelope, whether it is
    inference, whether it answers without an API key, and whether only an admin may call it."""

    dialect: Dialect
    inference: bool = False
    keyless: bool = False
    management: bool = False


@dataclass
class Exchange:
    method: str
    path: str
    route: RouteKind
    started: float
    body: bytes = b""  # the whole request body of an inference request, read once
    payload: dict[str, Any] | None = None  # ``body`` parsed, when it is a JSON object
    body_error: str | None = None  # why ``body`` could not be read or parsed
    model: str | None = None  # the name the client sent
    resolved: Any = None  # what the runner's store found for ``model``
    model_label: str | None = None  # how records and metrics name ``resolved``
    status: int = 500
    first_byte: float | None = None  # seconds after ``started``
    duration: float = 0.0
    response_head: bytearray = field(default_factory=bytearray)  # the start of the answer, for records
    error: str | None = None  # the exception that ended the request, if one did
    prompt_tokens: int | None = None
    completion_tokens: int = 0
    engine_usage: tuple[int | None, int] | None = None  # (prompt, completion) as the engine reported them
    caller: Any = None  # who sent it, as the gateway identified them
    key_holder: str | None = None  # the key's (or service's) name the gateway admitted it under; None without one
    refused: bool = False  # the gateway answered it (no key, over a limit): the runner never saw it
    cut_off: bool = False  # the client left before the answer's last byte (status then says 499)
    # Whether the caller's key may use a model with any of these names; None: any model (listings show all).
    models_allowed: Callable[[Iterable[str]], bool] | None = None

    headers: dict[str, str] = field(default_factory=dict)  # decoded once, names in lower case
    query: str = ""

    def put_in(self, scope: Scope) -> None:
        scope[_SCOPE_KEY] = self


def headers_of(scope: Scope) -> dict[str, str]:
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}


def exchange_of(scope: Scope) -> Exchange | None:
    return scope.get(_SCOPE_KEY)


def may_list(scope: Scope, names: Iterable[str]) -> bool:
    """Whether a listing shows a model by these names to this request's caller (a key may name its models)."""
    exchange = exchange_of(scope)
    return exchange is None or exchange.models_allowed is None or exchange.models_allowed(list(names))
