"""The gateway: API keys, caller identity, per-caller limits, request log, metrics per caller and a
dashboard, in front of the runner (``serve``) or of any runner (``compose-models gateway``)."""

from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp

from compose_models.gateway.metrics import GatewayMetrics
from compose_models.gateway.middleware import Gateway
from compose_models.gateway.settings import GatewaySettings


def with_gateway(app: ASGIApp, settings: GatewaySettings) -> ASGIApp:
    """``app`` behind the gateway. The runner's own ``/metrics`` then also carries the per-caller metrics."""
    runner_metrics = getattr(getattr(app, "state", None), "metrics", None)
    registry = getattr(runner_metrics, "registry", None)
    metrics = GatewayMetrics(registry or CollectorRegistry())
    return Gateway(app, settings, metrics, serves_metrics=registry is None)
