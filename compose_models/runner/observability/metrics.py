"""Prometheus metrics of the runner: requests, latency, time to first token, tokens, loaded models."""

from collections.abc import Iterable, Iterator
from typing import Protocol

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from compose_models.runner.http.exchange import Exchange
from compose_models.runner.services import services_of


class _Engine(Protocol):
    @property
    def reference(self) -> str: ...
    @property
    def mode(self) -> str: ...
    @property
    def backend_name(self) -> str: ...


class Scheduler(Protocol):
    """What the metrics read of the scheduler (scheduling/, above observability), handed in by app.py."""

    def running(self) -> Iterable[_Engine]: ...

_LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class _LoadedModels(Collector):
    def __init__(self, scheduler: Scheduler) -> None:
        self._scheduler = scheduler

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "compose_models_loaded_models", "Engines running, per model and mode", labels=["model", "mode", "backend"]
        )
        for engine in self._scheduler.running():
            gauge.add_metric([engine.reference, engine.mode, engine.backend_name], 1)
        yield gauge


class RunnerMetrics:
    def __init__(self, scheduler: Scheduler) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "compose_models_requests", "Inference requests answered", ["api", "model", "status"], registry=self.registry
        )
        self._latency = Histogram(
            "compose_models_request_duration_seconds", "Time from request to the end of the answer", ["api", "model"],
            buckets=_LATENCY_BUCKETS, registry=self.registry,
        )
        self._first_token = Histogram(
            "compose_models_time_to_first_token_seconds", "Time from request to the first streamed token", ["model"],
            buckets=_LATENCY_BUCKETS, registry=self.registry,
        )
        self._prompt_tokens = Counter(
            "compose_models_prompt_tokens", "Prompt tokens processed", ["model"], registry=self.registry
        )
        self._completion_tokens = Counter(
            "compose_models_completion_tokens", "Tokens generated", ["model"], registry=self.registry
        )
        self.registry.register(_LoadedModels(scheduler))

    def observe(self, exchange: Exchange) -> None:
        """A finished inference exchange, labelled with the model found for it ("" when none was)."""
        outcome, dialect = exchange.outcome, exchange.inbound.route.dialect.value
        if outcome.refused:
            return  # the gateway's metrics count refusals per caller
        model = exchange.body.model_label or ""
        self._requests.labels(dialect, model, str(outcome.status)).inc()
        self._latency.labels(dialect, model).observe(outcome.duration)
        if exchange.body.model_label is not None:
            self._prompt_tokens.labels(model).inc(outcome.prompt_tokens or 0)
            self._completion_tokens.labels(model).inc(outcome.completion_tokens)

    def first_token(self, model: str, seconds: float) -> None:
        self._first_token.labels(model).observe(seconds)


async def metrics_endpoint(request: Request) -> Response:
    return Response(generate_latest(services_of(request).metrics.registry), media_type=CONTENT_TYPE_LATEST)
