"""The doctor's checks between containers and the runner: the engine, the runner's port, the route, the plugin."""

from datetime import UTC

from compose_models.docker_host import NO_ENGINE, DockerHost
from compose_models.doctor.report import FAIL, OK, WARN, Finding
from compose_models.errors import UserError
from compose_models.integrations.install import PLUGIN_NAME, is_ours, plugin_dir
from compose_models.integrations.resolution import resolved_plugin
from compose_models.runner.control import daemon
from compose_models.runner.control.port_choice import port_holder
from compose_models.runner.control.state import default_port
from compose_models.runner.reach.container_route import Unreachable, container_route

_START_ENGINE = (
    "start your engine (Docker Desktop, OrbStack, `colima start`, Rancher Desktop, `podman machine start`), "
    "or point DOCKER_HOST or `docker context use` at it"
)


def engine_finding(docker: DockerHost) -> Finding:
    location = docker.location
    where = f"{location.endpoint} (from {location.source}{f', context {location.context}' if location.context else ''})"
    if docker.kind == NO_ENGINE:
        return Finding("Docker engine", FAIL, docker.problem or f"no engine answers at {where}", docker.fix or _START_ENGINE)
    gateways = f"; bridge gateways {', '.join(docker.bridge_gateways)}" if docker.bridge_gateways else ""
    return Finding("Docker engine", OK, f"{docker.kind} at {where}{gateways}")


def port_finding() -> Finding:
    preferred = default_port()
    state = daemon.running_runner()
    if state is not None:
        found = f"this runner (pid {state.pid}) listens on {', '.join(state.hosts)} port {state.port}"
        if state.port != preferred and state.preferred_port_holder:
            return Finding("runner port", WARN, f"{found}: port {preferred} is held by {state.preferred_port_holder}",
                           f"containers are told port {state.port}; free port {preferred} to get it back")  # fmt: skip
        return Finding("runner port", OK, found)
    holder = port_holder(preferred)
    if holder is None:
        return Finding("runner port", OK, f"port {preferred} is free; the runner is not running")
    return Finding("runner port", WARN, f"port {preferred} is held by {holder}; the runner is not running",
                   "nothing to do: the runner takes the next free port and tells containers that one")  # fmt: skip


def tls_finding() -> Finding:
    """Whether the running runner serves TLS, and its certificate's names and expiry."""
    from datetime import datetime
    from pathlib import Path

    from compose_models.runner.control.tls import certificate_facts

    state = daemon.running_runner()
    if state is None or not state.tls_cert:
        running = "the runner is not running" if state is None else "the runner serves plain HTTP"
        return Finding("runner TLS", OK, f"{running}; `serve --tls-self-signed` (or --tls-cert/--tls-key) for TLS")
    try:
        facts = certificate_facts(Path(state.tls_cert))
    except (OSError, ValueError) as error:
        return Finding("runner TLS", FAIL, f"the certificate {state.tls_cert} cannot be read: {error}",
                       "restart the runner with a valid --tls-cert, or --tls-self-signed")  # fmt: skip
    days = (facts.not_after - datetime.now(UTC)).days
    trust = f"; clients trust {state.tls_ca}" if state.tls_ca else ""
    containers = "https on the Docker bridge too" if state.tls_for_containers else "plain HTTP on the Docker bridge"
    found = (f"TLS with {state.tls_cert} for {', '.join(facts.names) or 'no names'}, valid until "
             f"{facts.not_after:%Y-%m-%d} ({days} days){trust}; containers: {containers}")  # fmt: skip
    if days < 0:
        return Finding("runner TLS", FAIL, found, "renew it: restart the runner (--tls-self-signed issues a new one)")
    if days < 30:
        return Finding("runner TLS", WARN, found, "renew it soon: restart the runner (--tls-self-signed issues a new one)")
    return Finding("runner TLS", OK, found)


def route_finding(docker: DockerHost) -> Finding:
    if docker.kind == NO_ENGINE:
        return Finding("container route", FAIL, "not tested: no Docker engine answers", docker.fix or _START_ENGINE)
    started = daemon.running_runner() is None
    try:
        state = daemon.ensure_running(default_port())
        route = container_route(docker, state, fresh=True)
    except Unreachable as error:
        return Finding("container route", FAIL, str(error),
                       "see docs/platforms.md for how this engine reaches the host; `compose-models logs` for the runner")  # fmt: skip
    except UserError as error:
        return Finding("container route", FAIL, str(error), "`compose-models logs` says why the runner did not start")
    how = (" (only with extra_hosts host-gateway: `compose-models up` adds it; for `docker compose up` through the "
           "plugin or a provider, add extra_hosts: [\"host.docker.internal:host-gateway\"] to the services that use models)"
           if route.host_gateway else "")
    note = "; started the runner to test it" if started else ""
    return Finding("container route", OK, f"a container on this engine reaches {route.base_url}{how}{note}")


def plugin_finding() -> Finding:
    """Which docker-model Docker runs, asked of Docker each time: Docker Desktop may rewrite config.json when it starts."""
    from compose_models.integrations.docker_config import has_takeover_record, takeover_dir
    from compose_models.integrations.resolution import take_over_advice

    installed = [path for path in (takeover_dir() / PLUGIN_NAME, plugin_dir() / PLUGIN_NAME) if is_ours(path)]
    try:
        resolved = resolved_plugin()
    except UserError as error:
        return Finding("docker-model plugin", WARN, str(error), "install the Docker CLI")
    if resolved is None:
        return Finding("docker-model plugin", WARN, "Docker finds no docker-model plugin: `compose-models up` works, "
                       "an unmodified `docker compose up` of a file with models: does not", "`compose-models install`")  # fmt: skip
    if is_ours(resolved.path):
        if resolved.error:
            return Finding("docker-model plugin", FAIL, f"Docker finds ours at {resolved.path} but will not run it: {resolved.error}",
                           "`compose-models install --force`")  # fmt: skip
        return Finding("docker-model plugin", OK, f"Docker runs ours: {resolved.path}")
    if not installed:
        return Finding("docker-model plugin", WARN, f"Docker runs {resolved.path} (not compose-models) for `docker model`",
                       f"to use compose-models for `docker model` and Compose models:, {take_over_advice(resolved)}; "
                       "`compose-models up` works either way")  # fmt: skip
    why = ""
    if has_takeover_record():
        why = (f": {takeover_dir()} is no longer listed first in cliPluginsExtraDirs (Docker Desktop may "
               "rewrite config.json when it starts)")  # fmt: skip
    return Finding("docker-model plugin", FAIL,
                   f"Docker runs {resolved.path}, not ours at {', '.join(map(str, installed))}{why}; "
                   "`docker model` and an unmodified `docker compose up` do not use compose-models",
                   f"to put ours back, {take_over_advice(resolved)}; `compose-models up` works either way")  # fmt: skip
