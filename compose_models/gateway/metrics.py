"""Prometheus metrics per caller and model, added to the runner's registry (or a registry of their own)."""

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, generate_latest
from starlette.responses import Response

from compose_models.gateway.request_log import RequestEntry


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._requests = Counter(
            "compose_models_caller_requests", "Inference requests per caller, model and status",
            ["caller", "model", "status"], registry=registry,
        )
        self._tokens = Counter(
            "compose_models_caller_tokens", "Tokens per caller, model and kind (prompt, completion)",
            ["caller", "model", "kind"], registry=registry,
        )
        self._seconds = Counter(
            "compose_models_caller_request_seconds", "Time spent answering, per caller and model",
            ["caller", "model"], registry=registry,
        )
        self._in_flight = Gauge(
            "compose_models_caller_requests_in_flight", "Inference requests being answered, per caller",
            ["caller"], registry=registry,
        )

    def started(self, caller: str) -> None:
        self._in_flight.labels(caller).inc()

    def finished(self, entry: RequestEntry, model: str) -> None:
        """``model``: the label of the model it named, one of a bounded set (never the raw name a client sent)."""
        self._in_flight.labels(entry.caller).dec()
        self._requests.labels(entry.caller, model, str(entry.status)).inc()
        self._tokens.labels(entry.caller, model, "prompt").inc(entry.prompt_tokens or 0)
        self._tokens.labels(entry.caller, model, "completion").inc(entry.completion_tokens)
        self._seconds.labels(entry.caller, model).inc(entry.duration)

    def refused(self, entry: RequestEntry, model: str) -> None:
        self._requests.labels(entry.caller, model, str(entry.status)).inc()

    def response(self) -> Response:
        """``/metrics`` for a gateway with no runner behind it in the same process (the llm-gateway connector)."""
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
