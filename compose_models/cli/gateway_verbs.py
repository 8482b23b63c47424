"""``compose-models gateway``: the llm-gateway connector, the runner's keys, limits and logs in front of any runner."""

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from compose_models.cli import app
from compose_models.errors import UserError

DEFAULT_LISTEN = "127.0.0.1:12435"
UPSTREAM_VARIABLE = "COMPOSE_MODELS_UPSTREAM"
UPSTREAM_KEY_VARIABLE = "COMPOSE_MODELS_UPSTREAM_API_KEY"


def _host_and_port(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    if not port.isdigit():
        raise UserError(f"--listen {listen!r}: expected ADDRESS:PORT")
    return host.strip("[]") or "127.0.0.1", int(port)


@app.command()
def gateway(
    upstream: Annotated[str, typer.Option(
        "--upstream", envvar=UPSTREAM_VARIABLE, help="The runner to forward to, e.g. http://192.168.1.20:12434"
    )],
    listen: Annotated[str, typer.Option(
        "--listen", help="ADDRESS:PORT; beyond loopback and the Docker bridge only with --api-keys"
    )] = DEFAULT_LISTEN,
    api_keys: Annotated[Optional[Path], typer.Option("--api-keys", help="File of API keys, `name: key` per line")] = None,
    requests_per_minute: Annotated[Optional[int], typer.Option("--requests-per-minute", min=1, help="Per caller")] = None,
    tokens_per_minute: Annotated[Optional[int], typer.Option("--tokens-per-minute", min=1, help="Per caller")] = None,
    concurrent_requests: Annotated[Optional[int], typer.Option("--concurrent-requests", min=1, help="Per caller")] = None,
    allowed_host: Annotated[list[str], typer.Option(
        "--allowed-host", help="A name requests may carry in Host besides loopback and this machine's names and "
        "addresses, e.g. the Compose service's name (repeatable; also $COMPOSE_MODELS_ALLOWED_HOSTS)",
    )] = [],
) -> None:
    """The runner's API behind API keys, per-caller limits, a request log, metrics and a dashboard, forwarded to UPSTREAM."""
    from compose_models.gateway.settings import export_gateway_options
    from compose_models.server import serve_gateway

    if not upstream.startswith(("http://", "https://")):
        raise UserError(f"--upstream {upstream!r}: expected an http:// or https:// URL")
    host, port = _host_and_port(listen)
    export_gateway_options(api_keys, requests_per_minute, tokens_per_minute, concurrent_requests)
    # The runner's OpenAI base URL (what Compose injects as LLM_URL) names the runner too.
    upstream = upstream.rstrip("/").removesuffix("/engines/v1")

    def started() -> None:
        typer.echo(f"llm-gateway on http://{listen} forwarding to {upstream}", err=True)

    serve_gateway(upstream, os.environ.get(UPSTREAM_KEY_VARIABLE), host, port, allowed_host, started)
