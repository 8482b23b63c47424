"""``compose-models launch AGENT [-- ARGS]``: start a coding agent or a chat UI already pointed at the runner,
the way Docker Model Runner's and Ollama's ``launch`` do. The agents and their settings: integrations/agents.py."""

import os
import shutil
import subprocess
import tempfile
from typing import Annotated, Optional

import typer

from compose_models.cli import app
from compose_models.errors import UserError

LAUNCH_PROJECT = "launch"  # the caller an agent's key names: launch/<agent>


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def launch(
    context: typer.Context,
    agent: Annotated[Optional[str], typer.Argument(help="codex, claude, opencode, aider or openwebui")] = None,
    list_agents: Annotated[bool, typer.Option("--list", help="List the agents launch knows")] = False,
    print_only: Annotated[bool, typer.Option("--print", help="Print the environment and config; start nothing")] = False,
    model: Annotated[Optional[str], typer.Option("--model", help="Model to use (default: the first in the store)")] = None,
) -> None:
    """Start an agent already pointed at the runner; arguments after -- go to the agent."""
    from compose_models.integrations.agents import AGENTS

    if list_agents or agent is None:
        width = max(len(name) for name in AGENTS)
        for name, known in AGENTS.items():
            typer.echo(f"{name:<{width}}  {known.summary}")
        return
    if agent not in AGENTS:
        raise UserError(f"unknown agent {agent!r}: expected one of {', '.join(AGENTS)}")
    known = AGENTS[agent]
    if not print_only and agent != "openwebui" and shutil.which(known.binary) is None:
        raise UserError(f"{agent} is not installed (no {known.binary!r} on PATH); install it with:\n  {known.install}")
    target = _target(agent, model, start=not print_only)
    plan = known.build(target, list(context.args))
    if print_only:
        typer.echo(_printed(plan), nl=False)
        return
    if agent == "openwebui":
        raise typer.Exit(_start_open_webui(plan))
    raise typer.Exit(_run(plan))


def _printed(plan) -> str:  # noqa: ANN001 - a Launch, imported lazily
    from compose_models.integrations.agents import printed

    return printed(plan)


def _run(plan) -> int:  # noqa: ANN001
    """The agent in the foreground, its config in a directory of its own, removed when it ends."""
    with tempfile.TemporaryDirectory(prefix="compose-models-launch-") as directory:
        for name, content in plan.files.items():
            path = os.path.join(directory, name)
            with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:  # may hold a key
                file.write(content)
        environment = {**os.environ, **{name: value.replace("{dir}", directory) for name, value in plan.environment.items()}}
        argv = [part.replace("{dir}", directory) for part in plan.argv]
        try:
            return subprocess.run(argv, env=environment).returncode
        except KeyboardInterrupt:
            return 130


def _start_open_webui(plan) -> int:  # noqa: ANN001
    """Started on the user's engine when its image is there; else the ``docker run`` line to start it."""
    from compose_models.integrations.agents import OPEN_WEBUI_IMAGE, OPEN_WEBUI_PORT, printed

    present = shutil.which("docker") is not None and subprocess.run(
        ["docker", "image", "inspect", OPEN_WEBUI_IMAGE], capture_output=True
    ).returncode == 0
    if not present:
        typer.echo(f"{OPEN_WEBUI_IMAGE} is not on this engine; start Open WebUI with:")
        typer.echo(printed(plan), nl=False)
        return 0
    code = subprocess.run(plan.argv).returncode
    if code == 0:
        typer.echo(f"Open WebUI: http://127.0.0.1:{OPEN_WEBUI_PORT}")
    return code


def _target(agent: str, model: Optional[str], start: bool):  # noqa: ANN202 - a Target
    from compose_models.gateway.service_keys import issued_service_keys
    from compose_models.integrations.agents import Target
    from compose_models.runner.control import daemon
    from compose_models.runner.control.state import default_port
    from compose_models.store import ModelStore, listed_name
    from compose_models.store.errors import ModelNotFound

    store = ModelStore.default()
    if model is None:
        tagged = [stored for stored in store.models() if stored.tags]
        if not tagged:
            raise UserError("no model in the store: pull one (compose-models pull ai/smollm2) or pass --model")
        model = listed_name(tagged[0].tags[0])
    try:
        context_size = store.get(model).context_size
    except (ModelNotFound, UserError):  # an upstream's model, or not pulled: the runner says so when asked
        context_size = None
    state = daemon.running_runner()
    if state is None and start:
        state = daemon.ensure_running(default_port())
    port = state.port if state else default_port()
    keys = issued_service_keys()
    key = keys.issue(LAUNCH_PROJECT, agent) if keys is not None else None
    container_url, host_gateway = f"http://host.docker.internal:{port}", False
    if agent == "openwebui" and state is not None:
        document = daemon.status_document(port)  # the reach probe's route
        container_url = str(document["endpoint"]).rstrip("/").removesuffix("/engines/v1")
        host_gateway = bool(document["reach"]["hostGateway"])
    host_url = state.host_url if state else f"http://127.0.0.1:{port}"  # https:// when the runner serves TLS
    # The local CA (--tls-self-signed) is trusted by nothing but what is told of it; a user's own certificate
    # (tls_ca None) is taken to chain to a CA the agent's runtime already trusts.
    ca_file = state.tls_ca if state and state.scheme == "https" else None
    return Target(host_url, container_url, model, key, context_size, host_gateway, ca_file)

