"""The runner's ASGI application: OpenAI routes under every prefix Docker Model Runner serves, plus management."""

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount

from compose_models.runner.errors import openai_error
from compose_models.runner.management_api import management_routes
from compose_models.runner.openai_api import openai_routes
from compose_models.runner.scheduler import Scheduler
from compose_models.store.store import ModelStore


async def _not_found(request: Request, exc: Exception) -> Response:
    if "/v1/" in request.url.path:
        return openai_error(404, f"unknown route {request.url.path}")
    return PlainTextResponse("404 page not found", status_code=404)


def create_app(store_root: Path, log_dir: Path) -> Starlette:
    store = ModelStore(store_root)
    scheduler = Scheduler(store.find, log_dir)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=httpx.Timeout(None, connect=10.0)) as http:
            app.state.http = http
            try:
                yield
            finally:
                await scheduler.shutdown()

    routes = openai_routes()
    app = Starlette(
        routes=[
            Mount("/engines/v1", routes=routes),
            Mount("/v1", routes=routes),
            *management_routes(),
            Mount("/engines/{backend}/v1", routes=routes),
        ],
        lifespan=lifespan,
        exception_handlers={404: _not_found},
    )
    app.state.store = store
    app.state.scheduler = scheduler
    return app
