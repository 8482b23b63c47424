"""The runner's parts, built once in ``app.py:create_app`` and read by every handler through one typed
accessor, ``services_of(request)``: the store, the scheduler, the upstreams' models, the HTTP pool for
upstreams and the engines' own clients, timeouts, metrics, request records, stored responses, the route
table and the reach secret. Nothing is added to the app after it is built, and a handler names what it
uses (``services_of(request).scheduler``) with its type, where ``request.app.state`` was a bag of ``Any``.

Why the field types are imported only for the type checker: this module sits at the runner's top beside
``app.py`` (its fields come from every folder: ``scheduling``, ``upstreams``, ``inference``,
``observability``, ``api/responses``, ``http``), yet the handlers that read it live in those folders,
below it in docs/architecture.md's table. At run time it imports nothing of the runner, so a handler that
imports the accessor depends on no folder above its own; mypy resolves the fields' real types all the
same. import-linter is told (``exclude_type_checking_imports`` in pyproject.toml) that an import under
``TYPE_CHECKING`` is not a dependency, since it never runs.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import HTTPConnection

if TYPE_CHECKING:
    import httpx

    from compose_models.runner.api.responses.store import ResponseStore
    from compose_models.runner.http.endpoint import Endpoint
    from compose_models.runner.inference.engine_client import EngineClients
    from compose_models.runner.observability.metrics import RunnerMetrics
    from compose_models.runner.observability.records import RequestRecords
    from compose_models.runner.scheduling.model_names import RunnerModelStore
    from compose_models.runner.scheduling.scheduler import Scheduler
    from compose_models.runner.scheduling.settings import Timeouts
    from compose_models.runner.upstreams.remote_models import RemoteModels


@dataclass(frozen=True)
class RunnerServices:
    store: "RunnerModelStore"
    scheduler: "Scheduler"
    remote_models: "RemoteModels"  # the upstreams' models
    http: "httpx.AsyncClient"  # upstreams, and engines not on plain HTTP; closed when the app's lifespan ends
    engine_clients: "EngineClients"  # a pool per local engine on plain HTTP; closed when the lifespan ends
    timeouts: "Timeouts"
    metrics: "RunnerMetrics"
    records: "RequestRecords"
    responses: "ResponseStore"
    endpoints: "tuple[Endpoint, ...]"  # the route table, for /openapi.json
    reach_secret: str | None = None  # None: the runner was started without one, and proves nothing


def services_of(where: HTTPConnection | Starlette) -> RunnerServices:
    """The runner's parts, from a request to the runner's app or from the app itself."""
    app = where if isinstance(where, Starlette) else where.app
    services = app.state.services
    if not isinstance(services, RunnerServices):
        raise TypeError("this app was not built by compose_models.runner.app.create_app")
    return services
