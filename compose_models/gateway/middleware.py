"""The gateway as pure ASGI middleware behind the tap: request id, API keys, caller identity, limits,
and, from each exchange the tap hands it when done, the request log, metrics per caller and the
dashboard's activity. Bodies pass through as they come, so streams stay streams."""

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from compose_models.gateway import dashboard
from compose_models.gateway.activity import INSPECTED_BYTES, Activity
from compose_models.gateway.activity import Exchange as Seen
from compose_models.gateway.identity import Caller, ContainerDirectory, identify, is_loopback
from compose_models.gateway.key_limits import budget_refusal, model_refusal, names_refusal
from compose_models.gateway.key_usage import FILE_NAME as USAGE_FILE
from compose_models.gateway.key_usage import KeyUsage
from compose_models.gateway.key_usage_view import KeyUsageCollector, usage_document
from compose_models.gateway.keys import presented_key
from compose_models.gateway.limits import CallerLimits
from compose_models.gateway.metrics import GatewayMetrics
from compose_models.gateway.request_id import request_id_for, returning_request_id, scope_with_request_id
from compose_models.gateway.request_log import RequestEntry, RequestLog
from compose_models.gateway.settings import GatewaySettings
from compose_models.runner.control.local_key import is_local_key, local_key_path
from compose_models.runner.http.dialects import dialect_of
from compose_models.runner.http.errors import ApiError, error_response
from compose_models.runner.http.exchange import Exchange, Inbound, RouteKind, exchange_of, headers_of

REMOTE_MODEL_LABELS = 32
NOBODY = ""  # no caller's name: the dashboard's data shown to a caller whose own requests are not knowable


class Gateway:
    """In front of ``app``, behind a tap whose finished exchanges reach ``finished``.

    ``registry``: the runner's metrics registry, which then also carries the per-caller metrics;
    without one (in front of a remote runner) the gateway answers ``/metrics`` itself.
    ``loaded_models``: the dashboard's rows of the runner's engines; None in front of a remote runner."""

    def __init__(
        self, app: ASGIApp, settings: GatewaySettings, registry: CollectorRegistry | None = None,
        loaded_models: Callable[[], list[dict[str, Any]]] | None = None,
    ) -> None:  # fmt: skip
        self.app = app
        self.loaded_models = loaded_models
        self.settings = settings
        self.metrics = GatewayMetrics(registry or CollectorRegistry())
        self.serves_metrics = registry is None
        self.limits = CallerLimits(settings.limits)
        self.log = RequestLog(settings.request_log)
        self.usage = KeyUsage(settings.request_log.parent / USAGE_FILE)
        self.metrics.registry.register(KeyUsageCollector(self.usage, settings.keys))
        self.activity = Activity()
        self.directory = ContainerDirectory()
        self._remote_models: set[str] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Behind no tap (a composition error), keys still apply; nothing is then known to be inference.
        exchange = exchange_of(scope) or Exchange(
            Inbound(scope["method"], scope["path"], RouteKind(dialect_of(scope["path"])), 0.0, headers_of(scope))
        )
        route, outcome = exchange.inbound.route, exchange.outcome
        headers = exchange.inbound.headers
        request_id = request_id_for(headers)
        scope = scope_with_request_id(scope, request_id)
        send = returning_request_id(send, request_id)
        path, method = scope["path"], scope["method"]
        key = presented_key(headers)
        service = self.settings.service_keys.caller_of(key) if key and self.settings.service_keys else None
        key_name = None
        address = (scope.get("client") or ("",))[0]
        # The dashboard's page needs no key (its data does), nor do the routes the table marks keyless.
        keyless = route.keyless or path == dashboard.PAGE_PATH
        if self.settings.keys and method != "OPTIONS" and not keyless:
            key_name = self.settings.keys.name_of(key) if key and service is None else None
            if key_name is None and service is None:
                message = (
                    "a valid API key is required (Authorization: Bearer KEY or x-api-key: KEY); "
                    "`compose-models up` gives each service one in OPENAI_API_KEY"
                )
                await self._refuse(exchange, ApiError(401, message), scope, receive, send)
                return
        outcome.key_holder = key_name or (service.name if service else None)
        if key_name is not None and self.settings.keys.rules_of(key_name).models is not None:
            outcome.models_allowed = self.settings.keys.rules_of(key_name).allows
            outcome.model_refusal = functools.partial(names_refusal, key_name, self.settings.keys.rules_of(key_name))
        admin = self._is_admin(key, key_name, address)
        if route.management and not admin:
            await self._refuse(exchange, ApiError(403, self._management_refusal()), scope, receive, send)
            return
        if method == "GET" and path == dashboard.PAGE_PATH:
            await dashboard.page()(scope, receive, send)
        elif method == "GET" and path == dashboard.ACTIVITY_PATH:
            models = self.loaded_models() if self.loaded_models else None
            only = None if admin else self._shown_caller(await identify(key_name, address, self.directory, service))
            document = {
                **self.activity.document(self.limits.in_flight(), only_caller=only), "models": models,
                "key_usage": usage_document(self.usage, self.settings.keys, None if admin else outcome.key_holder or NOBODY),
            }  # fmt: skip
            await JSONResponse(document)(scope, receive, send)
        elif method == "GET" and path == "/metrics" and self.serves_metrics:
            await self.metrics.response()(scope, receive, send)
        elif method == "POST" and route.inference:
            caller = await identify(key_name, address, self.directory, service)
            outcome.caller = _Admitted(caller, request_id)
            rules = self.settings.keys.rules_of(key_name)
            spent = budget_refusal(key_name, rules, self.usage) if key_name is not None else None
            if spent is not None:
                await self._refuse(exchange, spent.error, scope, receive, send, spent.headers)
                return
            refusal = self.limits.admit(caller.name)
            if refusal is not None:
                headers = {"retry-after": str(refusal.retry_after)}
                await self._refuse(exchange, ApiError(429, refusal.message), scope, receive, send, headers)
                return
            self.metrics.started(caller.name)
            await self.app(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def check_model(self, exchange: Exchange) -> ApiError | None:
        """The body reader's check, once it has found the model: whether the request's key may use it."""
        admitted = exchange.outcome.caller
        if not isinstance(admitted, _Admitted) or admitted.caller.kind != "key":
            return None
        return model_refusal(admitted.caller.name, self.settings.keys.rules_of(admitted.caller.name), exchange)

    def _model_label(self, exchange: Exchange) -> str:
        """The runner's label for the model, "" for none it has. In front of a remote runner, which alone
        knows its models, the first ``REMOTE_MODEL_LABELS`` names seen, then "other"."""
        if exchange.body.model_label is not None or not self.serves_metrics:
            return exchange.body.model_label or ""
        name = exchange.body.model or ""
        if name in self._remote_models or len(self._remote_models) < REMOTE_MODEL_LABELS:
            self._remote_models.add(name)
            return name
        return "other"

    def _is_admin(self, key: str | None, key_name: str | None, address: str) -> bool:
        """This machine's CLI, by its local key; with keys, an admin key's holder. Without keys and with open
        management, or in front of a remote runner (no local key), any caller on loopback: on a Mac that
        includes every container, whose requests the engine delivers to the host's loopback."""
        if is_local_key(key, self.settings.local_key):
            return True
        if self.settings.keys:
            return key is not None and key_name is not None and self.settings.keys.is_admin(key)
        if self.settings.local_key is None or self.settings.open_management:
            return is_loopback(address)
        return False

    def _shown_caller(self, caller: Caller) -> str:
        """Whose requests a caller that may not see everyone's is shown: its own; none for a caller known only
        by this machine's loopback while management needs the local key, for on a Mac that is every container."""
        guarded = self.settings.local_key is not None and not self.settings.open_management
        if guarded and caller.kind == "address" and is_loopback(caller.address):
            return NOBODY
        return caller.name

    def _management_refusal(self) -> str:
        if self.settings.keys:
            return "this key may not manage models or see others' requests: it needs the `admin` scope in the keys file"
        if self.settings.local_key is None:
            return "models are managed only from this machine (its loopback), not from containers or other hosts"
        return (
            "model management (pull, push, delete, configure, unload, ...) and others' requests are open only to "
            f"this machine's compose-models CLI, which sends the key in {local_key_path()}: run "
            "`compose-models pull|rm|configure|unload ...` on the host, or start the runner with "
            "`compose-models serve --open-management` to let any caller on its loopback manage (on a Mac, containers too)"
        )

    @staticmethod
    async def _refuse(
        exchange: Exchange, error: ApiError, scope: Scope, receive: Receive, send: Send, headers: dict[str, str] | None = None
    ) -> None:
        """Answer in the called API's shape, without reading the request's body."""
        exchange.outcome.refused = True
        response = error_response(exchange.inbound.route.dialect, error)
        response.headers.update(headers or {})
        await response(scope, receive, send)

    def finished(self, exchange: Exchange) -> None:
        """The tap's listener: log, meter and show an inference request this gateway let through or refused."""
        outcome = exchange.outcome
        admitted = outcome.caller
        if not isinstance(admitted, _Admitted):
            return  # refused before it was identified (no key), or not inference
        caller = admitted.caller
        if not outcome.refused:
            self.limits.release(caller.name, (outcome.prompt_tokens or 0) + outcome.completion_tokens)
            if outcome.key_holder is not None:
                self.usage.record(outcome.key_holder, outcome.prompt_tokens or 0, outcome.completion_tokens)
        entry = _entry(caller, admitted.request_id, exchange)
        self.log.write(entry)
        model = self._model_label(exchange)
        if outcome.refused:
            self.metrics.refused(entry, model)
        else:
            self.metrics.finished(entry, model)
        self.activity.finished(Seen(entry, _text(exchange.body.raw), _text(outcome.response_head)))


class _Admitted:
    """Who sent an exchange, as the gateway left it in the exchange."""

    def __init__(self, caller: Caller, request_id: str) -> None:
        self.caller = caller
        self.request_id = request_id


def _text(body: bytes | bytearray) -> str:
    return bytes(body[:INSPECTED_BYTES]).decode("utf-8", errors="replace")


def _entry(caller: Caller, request_id: str, exchange: Exchange) -> RequestEntry:
    outcome = exchange.outcome
    first_byte = outcome.first_byte if not outcome.refused else None
    return RequestEntry(
        time=datetime.now(UTC).isoformat(timespec="milliseconds"),
        request_id=request_id,
        caller=caller.name,
        caller_kind=caller.kind,
        project=caller.project,
        service=caller.service,
        container=caller.container,
        address=caller.address,
        route=exchange.inbound.path,
        model=exchange.body.model,
        status=outcome.status,
        prompt_tokens=outcome.prompt_tokens if not outcome.refused else 0,
        completion_tokens=outcome.completion_tokens,
        time_to_first_token=round(first_byte, 4) if first_byte is not None else None,
        duration=round(outcome.duration, 4),
        cut_off=outcome.cut_off,
    )
