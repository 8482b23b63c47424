"""One request and its answer as they pass through the runner (or the gateway's proxy): read once by
the tap at the front, then read, not re-parsed, by every layer behind it.

The tap puts the ``Exchange`` in the scope with the request as it arrived (``Inbound``, frozen); the body
reader adds the body once (``RequestBody``, frozen); the gateway, the handlers and the engine call read
those and leave what they learn in the ``Outcome`` (the caller, the status, the token counts)."""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.types import Scope

from compose_models.runner.http.dialects import Dialect

if TYPE_CHECKING:  # named for the type checker only: the wire imports no other folder (see runner/services.py)
    from compose_models.runner.scheduling.scheduler import LocalModel
    from compose_models.runner.upstreams.remote_models import RemoteModel

_SCOPE_KEY = "compose_models.exchange"


@dataclass(frozen=True)
class RouteKind:
    """What the front needs to know of a route before it runs: the error envelope, whether it is
    inference, whether it answers without an API key, and whether only an admin may call it."""

    dialect: Dialect
    inference: bool = False
    keyless: bool = False
    management: bool = False


@dataclass(frozen=True)
class Inbound:
    """The request as it arrived, fixed by the tap before any layer runs."""

    method: str
    path: str
    route: RouteKind
    started: float  # time.monotonic() when the tap saw it
    headers: Mapping[str, str] = field(default_factory=dict)  # decoded once, names in lower case
    query: str = ""


@dataclass(frozen=True)
class RequestBody:
    """An inference request's body, as the body reader read it, once."""

    raw: bytes = b""  # the whole body, read once
    payload: dict[str, Any] | None = None  # ``raw`` parsed, when it is a JSON object
    error: str | None = None  # why ``raw`` could not be read or parsed
    model: str | None = None  # the name the client sent
    target: "LocalModel | RemoteModel | None" = None  # what the runner's store or upstreams found for ``model``
    model_label: str | None = None  # how records and metrics name ``target``


NO_BODY = RequestBody()


@dataclass
class Outcome:
    """What the layers learn while the request is served, for the tap's listeners."""

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
    # The key's refusal of a model a request names by its first name and is known by all of them (None:
    # allowed), as inference answers it; None: any model.
    model_refusal: Callable[[str, list[str]], Exception | None] | None = None


class Exchange:
    """The request as it came in (``inbound``, then ``body`` once the body reader has read it), and what
    became of it (``outcome``)."""

    __slots__ = ("_body", "inbound", "outcome")

    def __init__(self, inbound: Inbound) -> None:
        self.inbound = inbound
        self.outcome = Outcome()
        self._body: RequestBody | None = None

    @property
    def body(self) -> RequestBody:
        """The body as read; empty before (or without) the body reader."""
        return self._body or NO_BODY

    def body_read(self, body: RequestBody) -> None:
        if self._body is not None:
            raise RuntimeError("an exchange's body is read once")
        self._body = body

    def put_in(self, scope: Scope) -> None:
        scope[_SCOPE_KEY] = self


def headers_of(scope: Scope) -> dict[str, str]:
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}


def exchange_of(scope: Scope) -> Exchange | None:
    return scope.get(_SCOPE_KEY)


def may_list(scope: Scope, names: Iterable[str]) -> bool:
    """Whether a listing shows a model by these names to this request's caller (a key may name its models)."""
    exchange = exchange_of(scope)
    allowed = exchange.outcome.models_allowed if exchange is not None else None
    return allowed is None or allowed(list(names))


def check_model_read(scope: Scope, asked: str, names: Iterable[str] = ()) -> None:
    """A read of one model (Ollama's show, DMR's get) by a key that may not use it is refused as inference
    would refuse it (403 ``model_not_allowed``), whether or not the model is here: a key learns nothing of
    the models outside its list. ``names``: those the model was found under, beside ``asked``."""
    exchange = exchange_of(scope)
    refuse = exchange.outcome.model_refusal if exchange is not None else None
    refusal = refuse(asked, [asked, *names]) if refuse is not None else None
    if refusal is not None:
        raise refusal
