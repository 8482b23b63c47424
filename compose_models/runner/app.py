"""The runner's ASGI application, built from the route table: its routes, CORS, the engines'
scheduler and the store; and the tap in front of it (with whatever stands between, such as the gateway)."""

import contextlib
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route
from starlette.types import ASGIApp

from compose_models.errors import UserError
from compose_models.home import responses_dir, runner_dir
from compose_models.runner.api.dmr.configurations import configuration_document
from compose_models.runner.api.responses.store import ResponseStore
from compose_models.runner.errors import RunnerError
from compose_models.runner.http.body_reader import BodyReader
from compose_models.runner.http.cors import Cors, configured_origins
from compose_models.runner.http.errors import ApiError, render_api_error, render_error, render_os_error
from compose_models.runner.inference.engine_client import EngineClients
from compose_models.runner.observability.metrics import RunnerMetrics
from compose_models.runner.observability.records import RequestRecords
from compose_models.runner.observability.tap import Listener, Tap
from compose_models.runner.routes import ENDPOINTS, RouteTable
from compose_models.runner.scheduling.model_names import RunnerModelStore, model_label
from compose_models.runner.scheduling.scheduler import LocalModel, Scheduler
from compose_models.runner.scheduling.settings import Timeouts
from compose_models.runner.services import RunnerServices, services_of
from compose_models.runner.upstreams.config import Upstream
from compose_models.runner.upstreams.remote_models import RemoteModel, RemoteModels


def create_app(
    store_root: Path, log_dir: Path, upstreams: Iterable[Upstream] = (), reach_secret: str | None = None
) -> Starlette:
    """The runner's app, with its parts (services.py) built once here; ``reach_secret`` is what
    ``/engines/reach`` proves this runner by (None: it proves nothing)."""
    store = RunnerModelStore(store_root)
    remote_models = RemoteModels(list(upstreams))
    scheduler = Scheduler(store.find, log_dir, state_dir=runner_dir())
    timeouts = Timeouts.from_environment()
    services = RunnerServices(
        store=store, scheduler=scheduler, remote_models=remote_models, http=_upstream_client(timeouts),
        engine_clients=EngineClients(timeouts.engine_connect, timeouts.engine_read), timeouts=timeouts,
        metrics=RunnerMetrics(scheduler),
        records=RequestRecords(configuration_of=lambda label: configuration_document(scheduler, label) or {}),
        responses=ResponseStore.from_environment(responses_dir()), endpoints=ENDPOINTS, reach_secret=reach_secret,
    )  # fmt: skip

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with services.http:
            await remote_models.start(services.http)
            scheduler.start_background()  # unloads engines idle past their keep-alive
            try:
                yield
            finally:
                await remote_models.stop()
                await scheduler.shutdown()
                services.engine_clients.close()

    app = Starlette(
        routes=[Route(endpoint.path, endpoint.handler, methods=[endpoint.method]) for endpoint in ENDPOINTS],
        middleware=[Middleware(Cors, extra_origins=configured_origins())],
        lifespan=lifespan,
        exception_handlers={
            ApiError: render_api_error, RunnerError: render_error, UserError: render_error, OSError: render_os_error,
            404: render_api_error, 405: render_api_error,
        },
    )
    app.state.services = services  # the one thing kept in the app's state: read it with services_of
    return app


def _upstream_client(timeouts: Timeouts) -> httpx.AsyncClient:
    """The HTTP pool for upstreams (and engines not on plain HTTP); it opens no connection until used, so
    it is built outside the event loop, and closed when the app's lifespan ends."""
    # Engine connections are kept for less time than llama-server keeps them open (5 s).
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=32, keepalive_expiry=2.0)
    # No pool timeout: there is no connection limit to wait for.
    timeout = httpx.Timeout(timeouts.engine_read, connect=timeouts.engine_connect, pool=None)
    return httpx.AsyncClient(timeout=timeout, limits=limits)


def body_reader(runner: Starlette) -> BodyReader:
    """``runner`` behind the reader of inference bodies, which finds their models in its store, else
    among its upstreams' models."""
    services = services_of(runner)
    store, remote_models = services.store, services.remote_models

    def resolve(name: str) -> tuple[LocalModel | RemoteModel, str] | None:
        model = store.find(name)
        if model is not None:
            return model, model_label(model)
        remote = remote_models.find(name)
        return (remote, remote.name) if remote is not None else None

    return BodyReader(runner, resolve)


def tapped(runner: Starlette, inner: ASGIApp | None = None, listeners: Iterable[Listener] = ()) -> Tap:
    """``runner`` behind the tap, with ``inner`` (an app wrapping ``body_reader(runner)``: the gateway)
    between them; the tap's finished exchanges go to the records, the metrics and ``listeners``."""
    services = services_of(runner)
    return Tap(
        inner or body_reader(runner), RouteTable().kind,
        listeners=[services.records.observe, services.metrics.observe, *listeners],
    )  # fmt: skip
