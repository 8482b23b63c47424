"""Runner verbs: serve, stop, status, ps, unload, configure."""

import json
from typing import Annotated, Optional

import typer

from compose_models.cli import app
from compose_models.errors import UserError
from compose_models.runner import daemon
from compose_models.runner.client import RunnerClient
from compose_models.runner.state import default_port

PortOption = Annotated[Optional[int], typer.Option("--port", help="TCP port (default 12434 or $COMPOSE_MODELS_PORT)")]


def _require_runner() -> RunnerClient:
    state = daemon.running_runner()
    if state is None:
        raise UserError("the runner is not running: start it with `compose-models serve --detach`")
    return RunnerClient(state)


@app.command()
def serve(
    host: Annotated[list[str], typer.Option("--host", help="Address to listen on (repeatable)")] = [],
    port: PortOption = None,
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Run in the background")] = False,
) -> None:
    """Run the inference runner (OpenAI API under /engines/v1/)."""
    port = port or default_port()
    if detach:
        existing = daemon.running_runner()
        state = existing or daemon.start_detached(port, host)
        typer.echo(f"runner {'already ' if existing else ''}running on port {state.port} (pid {state.pid})")
        return
    from compose_models.runner.server import serve as serve_foreground

    serve_foreground(host, port)


@app.command()
def stop() -> None:
    """Stop the background runner and every engine it started."""
    typer.echo("runner stopped" if daemon.stop_runner() else "the runner was not running")


@app.command()
def status(json_output: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """Is the runner up, and at which URLs do containers and host processes reach it."""
    document = daemon.status_document(default_port())
    if json_output:
        typer.echo(json.dumps(document))
        return
    if not document["running"]:
        typer.echo("compose-models runner is not running")
        raise typer.Exit(1)
    typer.echo(f"compose-models runner is running\n  containers: {document['endpoint']}\n  host: {document['endpointHost']}")


@app.command()
def ps(json_output: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """Models loaded in the runner."""
    running = _require_runner().running()
    if json_output:
        typer.echo(json.dumps(running, indent=2))
        return
    typer.echo(f"{'MODEL NAME':<40} {'BACKEND':<10} {'MODE':<12} LAST USED")
    for entry in running:
        typer.echo(f"{entry['model_name']:<40} {entry['backend_name']:<10} {entry['mode']:<12} {entry['last_used']}")


@app.command()
def unload(
    models: Annotated[Optional[list[str]], typer.Argument(help="Models to unload")] = None,
    all_models: Annotated[bool, typer.Option("--all", help="Unload every model")] = False,
) -> None:
    """Stop the engines of idle models."""
    if bool(models) == all_models:
        raise UserError("unload: name one or more models, or pass --all")
    count = _require_runner().unload(None if all_models else models)
    typer.echo(f"Unloaded {count} model(s)." if count else "No models are running.")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def configure(
    model: Annotated[str, typer.Argument(help="Model reference")],
    context_size: Annotated[Optional[int], typer.Option("--context-size", min=1)] = None,
    runtime_flags: Annotated[Optional[list[str]], typer.Argument(help="Runtime flags, after --")] = None,
) -> None:
    """Set a model's context size and runtime flags: configure [--context-size N] MODEL [-- FLAGS...]."""
    state = daemon.ensure_running(default_port())
    RunnerClient(state).configure(model, context_size, runtime_flags or [])
