"""Runner verbs: serve, stop, status, ps, unload, configure (the last four answered in quick_verbs)."""

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from compose_models.cli import app, quick_verbs
from compose_models.errors import UserError
from compose_models.runner.configuration.environment import BUDGET_VARIABLE, KEEP_ALIVE_VARIABLE, MAX_LOADED_VARIABLE
from compose_models.runner.configuration.presets import PRESETS
from compose_models.units import parse_size

PortOption = Annotated[Optional[int], typer.Option("--port", help="TCP port (default 12434 or $COMPOSE_MODELS_PORT)")]


@app.command()
def serve(
    host: Annotated[list[str], typer.Option("--host", help="Address to listen on (repeatable)")] = [],
    port: PortOption = None,
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Run in the background")] = False,
    memory_budget: Annotated[Optional[str], typer.Option(
        "--memory-budget", help=f"Memory the loaded models may take, e.g. 8GiB (default: Metal's working set on Apple silicon, "
        f"else 75% of RAM; ${BUDGET_VARIABLE})"
    )] = None,
    max_models: Annotated[Optional[int], typer.Option(
        "--max-models", min=1, help=f"Most models loaded at once (${MAX_LOADED_VARIABLE})"
    )] = None,
    keep_alive: Annotated[Optional[str], typer.Option(
        "--keep-alive", help="How long an idle model stays loaded: 5m (default), 0 = unload at once, -1 = never"
    )] = None,
    api_keys: Annotated[Optional[Path], typer.Option(
        "--api-keys", help="File of API keys, `name: key` per line; required to listen beyond loopback and the Docker bridge"
    )] = None,
    requests_per_minute: Annotated[Optional[int], typer.Option("--requests-per-minute", min=1, help="Per caller")] = None,
    tokens_per_minute: Annotated[Optional[int], typer.Option("--tokens-per-minute", min=1, help="Per caller")] = None,
    concurrent_requests: Annotated[Optional[int], typer.Option("--concurrent-requests", min=1, help="Per caller")] = None,
    open_management: Annotated[bool, typer.Option(
        "--open-management", help="Without keys, let any caller on loopback manage models, not only this machine's CLI "
        "(on a Mac, every container too; $COMPOSE_MODELS_OPEN_MANAGEMENT=1)",
    )] = False,
    upstreams: Annotated[Optional[Path], typer.Option(
        "--upstreams", help="File of remote endpoints whose models are served here (default $COMPOSE_MODELS_HOME/upstreams.yaml)"
    )] = None,
    tls_cert: Annotated[Optional[Path], typer.Option("--tls-cert", help="Serve TLS with this certificate chain (PEM)")] = None,
    tls_key: Annotated[Optional[Path], typer.Option("--tls-key", help="The private key of --tls-cert (PEM)")] = None,
    tls_self_signed: Annotated[bool, typer.Option(
        "--tls-self-signed", help="Serve TLS with a certificate from a local CA kept in $COMPOSE_MODELS_HOME/runner/tls/ (ca.pem)"
    )] = False,
    tls_for_containers: Annotated[bool, typer.Option(
        "--tls-for-containers", help="TLS on the Docker bridge too, and https:// URLs for containers (which must trust the CA)"
    )] = False,
) -> None:
    """Run the inference runner (OpenAI API under /engines/v1/)."""
    from compose_models.gateway.settings import export_gateway_options
    from compose_models.runner.control import daemon
    from compose_models.runner.control.state import default_port
    from compose_models.runner.upstreams.config import (
        UPSTREAMS_FILE_VARIABLE,
        configured_upstreams_path,
        load_upstreams,
    )

    port = port or default_port()
    if upstreams is not None:
        os.environ[UPSTREAMS_FILE_VARIABLE] = str(upstreams.expanduser().resolve())
    load_upstreams(*configured_upstreams_path())  # a malformed file is refused here, before a detached start
    export_gateway_options(api_keys, requests_per_minute, tokens_per_minute, concurrent_requests, open_management)
    from compose_models.runner.control.tls import export_tls_options

    export_tls_options(tls_cert, tls_key, tls_self_signed, tls_for_containers)
    # The scheduler reads its settings from the environment, which a detached runner inherits.
    if memory_budget is not None:
        parse_size(memory_budget, "--memory-budget")
        os.environ[BUDGET_VARIABLE] = memory_budget
    if max_models is not None:
        os.environ[MAX_LOADED_VARIABLE] = str(max_models)
    if keep_alive is not None:
        quick_verbs.check_duration(keep_alive, "--keep-alive")
        os.environ[KEEP_ALIVE_VARIABLE] = keep_alive
    if detach:
        existing = daemon.running_runner()
        state = existing or daemon.start_detached(port, host)
        typer.echo(f"runner {'already ' if existing else ''}running on port {state.port} (pid {state.pid})")
        return
    from compose_models.server import serve as serve_foreground

    serve_foreground(host, port)


@app.command()
def stop() -> None:
    """Stop the background runner and every engine it started."""
    from compose_models.runner.control import daemon

    typer.echo("runner stopped" if daemon.stop_runner() else "the runner was not running")


@app.command()
def status(json_output: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """Is the runner up, and at which URLs do containers and host processes reach it."""
    raise typer.Exit(quick_verbs.status(json_output))


@app.command()
def ps(json_output: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """Models loaded in the runner."""
    quick_verbs.ps(json_output)


@app.command()
def unload(
    models: Annotated[Optional[list[str]], typer.Argument(help="Models to unload")] = None,
    all_models: Annotated[bool, typer.Option("--all", help="Unload every model")] = False,
) -> None:
    """Stop the engines of idle models."""
    if bool(models) == all_models:
        raise UserError("unload: name one or more models, or pass --all")
    count = quick_verbs.require_runner().unload(None if all_models else models)
    typer.echo(f"Unloaded {count} model(s)." if count else "No models are running.")


@app.command()
def dashboard(
    open_browser: Annotated[bool, typer.Option("--open", help="Open it in the default browser")] = False,
) -> None:
    """The runner's dashboard address, with this machine's key in it: every caller's requests, for you alone."""
    from compose_models.runner.control.local_key import local_auth_headers

    state = quick_verbs.require_runner_state()
    key = local_auth_headers().get("Authorization", "").removeprefix("Bearer ")
    if not key:
        raise UserError("the runner wrote no key for this machine's CLI: restart it with `compose-models stop` and `serve --detach`")
    url = f"{state.host_url}/ui#key={key}"
    typer.echo(url)
    if open_browser:
        import webbrowser

        webbrowser.open(url)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def configure(
    model: Annotated[str, typer.Argument(help="Model reference")],
    context_size: Annotated[Optional[int], typer.Option("--context-size", min=1)] = None,
    keep_alive: Annotated[Optional[str], typer.Option(
        "--keep-alive", help="How long the model stays loaded when idle: 10m, 1h, 0 = unload at once, -1 = never"
    )] = None,
    preset: Annotated[Optional[str], typer.Option(
        "--preset", help=f"Named runtime flags ({', '.join(PRESETS)}); flags after -- override it"
    )] = None,
    draft_model: Annotated[Optional[str], typer.Option(
        "--draft-model", "--speculative-draft-model",
        help="A smaller model of the store with the same vocabulary, which drafts tokens (speculative decoding)",
    )] = None,
    runtime_flags: Annotated[Optional[list[str]], typer.Argument(help="Runtime flags, after --")] = None,
    reset: Annotated[bool, typer.Option(
        "--reset", help="Forget the model's configuration (kept across restarts): it runs with the defaults"
    )] = False,
) -> None:
    """Set a model's context size, keep-alive, draft model and runtime flags: configure [OPTIONS] MODEL [-- FLAGS...].

    The configuration is kept across runner restarts, until the next configure or `configure --reset MODEL`."""
    if reset:
        if context_size is not None or keep_alive is not None or preset is not None or draft_model or runtime_flags:
            raise UserError("configure --reset: takes only the model, no other option or flag")
        quick_verbs.reset_configuration(model)
        return
    quick_verbs.configure(model, context_size, keep_alive, preset, runtime_flags or [], draft_model=draft_model)

