"""The runner's ASGI application: OpenAI routes under every prefix Docker Model Runner serves, plus
Anthropic, Ollama and management routes; errors in each API's shape, CORS, metrics and records."""

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Router
from starlette.types import Receive, Scope, Send

from compose_models.runner.api.anthropic.routes import anthropic_routes
from compose_models.runner.api.dmr.models import models_routes
from compose_models.runner.api.dmr.routes import management_routes
from compose_models.runner.api.ollama.models import ollama_model_routes
from compose_models.runner.api.ollama.routes import ollama_inference_routes
from compose_models.runner.api.openai.routes import openai_routes
from compose_models.runner.http.cors import Cors, configured_origins
from compose_models.runner.http.dialects import Dialect
from compose_models.runner.http.errors import ApiError, error_response, render_api_error
from compose_models.runner.observability.metrics import RunnerMetrics
from compose_models.runner.observability.records import RequestRecords
from compose_models.runner.observability.tap import InferenceObserver
from compose_models.runner.scheduling.model_names import RunnerModelStore
from compose_models.runner.scheduling.scheduler import Scheduler

KNOWN_BACKENDS = ("llama.cpp",)


class KnownBackendOnly:
    """``/engines/{backend}/v1/...``: Docker Model Runner answers 404 for a backend it does not have."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self.routes = router.routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        backend = scope.get("path_params", {}).get("backend")
        if backend not in KNOWN_BACKENDS:
            error = ApiError(404, f"backend {backend!r} not found (this runner has {', '.join(KNOWN_BACKENDS)})")
            await error_response(Dialect.OPENAI, error)(scope, receive, send)
            return
        await self.router(scope, receive, send)


def create_app(store_root: Path, log_dir: Path) -> Starlette:
    store = RunnerModelStore(store_root)
    scheduler = Scheduler(store.find, log_dir)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Engine connections are kept for less time than llama-server keeps them open (5 s).
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=32, keepalive_expiry=2.0)
        async with httpx.AsyncClient(timeout=httpx.Timeout(None, connect=10.0), limits=limits) as http:
            app.state.http = http
            scheduler.start_background()  # unloads engines idle past their keep-alive
            try:
                yield
            finally:
                await scheduler.shutdown()

    engine_routes = openai_routes() + anthropic_routes()
    app = Starlette(
        routes=[
            Mount("/anthropic/v1", routes=anthropic_routes()),
            Mount("/engines/v1", routes=engine_routes),
            Mount("/v1", routes=engine_routes),
            *management_routes(),
            *models_routes(),
            *ollama_inference_routes(),
            *ollama_model_routes(),
            Mount("/engines/{backend}/v1", app=KnownBackendOnly(Router(engine_routes))),
        ],
        middleware=[Middleware(Cors, extra_origins=configured_origins()), Middleware(InferenceObserver)],
        lifespan=lifespan,
        exception_handlers={ApiError: render_api_error, 404: render_api_error, 405: render_api_error},
    )
    app.state.store = store
    app.state.scheduler = scheduler
    app.state.metrics = RunnerMetrics(scheduler)
    app.state.records = RequestRecords()
    return app
