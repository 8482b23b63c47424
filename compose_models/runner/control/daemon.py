"""Start, find and stop the runner as a background process."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from compose_models.docker_host import NO_ENGINE, detect_docker_host
from compose_models.errors import UserError
from compose_models.home import private_state_dirs, runner_dir
from compose_models.runner.control.local_http import LocalHTTPError, local_get
from compose_models.runner.control.local_key import local_auth_headers
from compose_models.runner.control.state import RunnerState, read_state


def _answers(state: RunnerState) -> bool:
    try:
        return local_get(f"{state.host_url}/engines/status", timeout=2.0).status_code == 200
    except LocalHTTPError:
        return False


def running_runner() -> RunnerState | None:
    state = read_state()
    return state if state is not None and _answers(state) else None


# Variables naming a file or folder: made absolute, since the runner does not start in the caller's folder.
_PATH_VARIABLES = (
    "COMPOSE_MODELS_HOME", "COMPOSE_MODELS_API_KEYS_FILE", "COMPOSE_MODELS_UPSTREAMS_FILE", "COMPOSE_MODELS_CACHE",
    "COMPOSE_MODELS_TLS_CERT", "COMPOSE_MODELS_TLS_KEY",
    "LLAMA_SERVER_PATH", "DOCKER_CONFIG", "XDG_CACHE_HOME",
)


def _runner_environment() -> dict[str, str]:
    """The runner's environment: ours, its paths made absolute, less the PYTHON* variables when we ignore
    them (``python -E``, as the shims Docker and Compose run start us), so a project's ``PYTHONPATH`` reaches
    neither the runner nor its engines.

    The runner starts in its own folder, never the caller's: ``python -m`` puts the current folder first on
    ``sys.path``, where a cloned repository could hold a ``compose_models`` (or ``llama_cpp``) of its own."""
    environment = dict(os.environ)
    for name in _PATH_VARIABLES:
        if environment.get(name):
            environment[name] = os.path.abspath(os.path.expanduser(environment[name]))
    if sys.flags.ignore_environment:
        environment = {name: value for name, value in environment.items() if not name.startswith("PYTHON")}
    return environment


def start_detached(port: int, hosts: Sequence[str] = (), timeout: float = 30.0) -> RunnerState:
    """Start ``compose-models serve`` in its own session and wait until it answers."""
    log_path = private_state_dirs() / "runner.log"
    argv = [sys.executable, "-m", "compose_models", "serve", "--port", str(port)]
    for host in hosts:
        argv += ["--host", host]
    with os.fdopen(os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab") as log:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            cwd=runner_dir().resolve(), env=_runner_environment(),
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
            raise UserError(f"the runner exited while starting: {tail[0]} (log: {log_path})")
        state = read_state()
        if state is not None and state.pid == process.pid and _answers(state):
            if state.preferred_port_holder:
                print(
                    f"compose-models: port {state.preferred_port} is held by {state.preferred_port_holder}; "
                    f"the runner listens on port {state.port} instead", file=sys.stderr, flush=True,
                )
            return state
        time.sleep(0.1)
    process.terminate()
    raise UserError(f"the runner did not answer within {timeout:.0f}s (log: {log_path})")


def ensure_running(port: int) -> RunnerState:
    """The running runner, or a new one; one started before the Docker engine is restarted while idle,
    since containers on a Linux engine can reach it only on the bridge address it did not listen on.

    Callers at the same time (Compose runs the plugin several times at once) start one runner between
    them: without the lock each would start its own, and all but the last would be left running unrecorded.
    """
    from filelock import FileLock  # here: the verbs that only read the state need no lock

    runner_dir().mkdir(parents=True, exist_ok=True)
    with FileLock(str(runner_dir() / "start.lock")):
        state = running_runner()
        if state is None:
            return start_detached(port)
        missing = [address for address in detect_docker_host().local_bridge_gateways() if address not in state.hosts]
        if missing and state.hosts == ["127.0.0.1"]:
            engines = local_get(f"{state.host_url}/engines/ps", headers=local_auth_headers(), timeout=5.0).json()
            # An upstream's model is listed even when idle: only one answering a request keeps the runner busy.
            if [entry for entry in engines if entry.get("mode") != "remote" or entry.get("in_use")]:
                raise UserError(
                    f"the runner started before the Docker engine and does not listen on the bridge address {missing[0]}, "
                    "so containers cannot reach it; restart it with `compose-models stop` once its models are idle"
                )
            stop_runner()
            return start_detached(state.port)
        return state


def stop_runner(timeout: float = 15.0) -> bool:
    """Stop the background runner (and so its engines). False if none was running."""
    state = read_state()
    if state is None:
        return False
    os.kill(state.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(state.pid):
            return True
        time.sleep(0.1)
    os.kill(state.pid, signal.SIGKILL)
    return True


def _alive(pid: int) -> bool:
    """False once ``pid`` has exited; reaps it when it is our own child, which would otherwise linger as a zombie."""
    try:
        if os.waitpid(pid, os.WNOHANG) != (0, 0):
            return False
    except ChildProcessError:
        pass  # not our child
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def status_document(port: int) -> dict[str, Any]:
    """``status --json``, in Docker Model Runner's shape, with our ``/engines/v1/`` base URLs.

    ``endpoint`` is the URL a container was seen to reach (probed, or checked from the cache) when the
    runner runs and an engine answers; otherwise the last one that worked, or Docker Desktop's name.
    """
    # Here, not at the top: ps and configure need no reach probe (docker-py, starlette).
    from compose_models.runner.reach.container_route import ContainerRoute, cached_route, container_route

    state = running_runner()
    port = state.port if state else port
    docker = detect_docker_host()
    backends = {}
    if state:
        backends = local_get(f"{state.host_url}/engines/status", timeout=5.0).json()
    if state and docker.kind != NO_ENGINE:
        route, probed = container_route(docker, state), True
    else:
        route, probed = cached_route(docker, port) or ContainerRoute("host.docker.internal", port), False
        route = replace(route, scheme=state.container_scheme) if state else route
    return {
        "running": state is not None,
        "backends": backends,
        "kind": docker.kind,
        "endpoint": route.base_url,
        "endpointHost": f"{state.host_url if state else f'http://127.0.0.1:{port}'}/engines/v1/",
        "tls": {"ca": state.tls_ca, "certificate": state.tls_cert, "forContainers": state.tls_for_containers}
        if state and state.tls_cert else None,
        "reach": {
            "engine": docker.endpoint,
            "context": docker.location.context,
            "engineSource": docker.location.source,
            "host": route.host,
            "hostGateway": route.host_gateway,
            "probed": probed,
            "problem": docker.problem,
        },
    }
