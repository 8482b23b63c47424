"""The URL containers use for the runner: probed once per engine and runner port, then cached.

The cache (``$COMPOSE_MODELS_HOME/runner/reach.json``) is keyed by the engine's endpoint and the
runner's port. A cached route is checked with a one-candidate probe when it is handed out, and all
candidates are probed again when it no longer answers, so a changed engine or network is found. A
route checked in the last ``RECHECK_SECONDS`` for the same runner is handed out without a probe:
Compose asks for it several times in one ``docker compose up``, and each probe is a container run.
"""

import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from compose_models.docker_host import DockerHost
from compose_models.errors import UserError
from compose_models.home import runner_dir
from compose_models.runner.reach.probe import ANSWERED, Attempt, Candidate, candidates, probe


class RunnerState(Protocol):
    """What the route needs of the runner's state (control/state.py's ``RunnerState``, which is above reach)."""

    @property
    def port(self) -> int: ...
    @property
    def pid(self) -> int: ...
    @property
    def hosts(self) -> list[str]: ...
    @property
    def reach_secret(self) -> str: ...
    @property
    def container_scheme(self) -> str: ...


@dataclass(frozen=True)
class ContainerRoute:
    """How a container reaches the runner: ``host`` (``host_gateway``: only with that extra_hosts entry)."""

    host: str
    port: int
    host_gateway: bool = False
    scheme: str = "http"  # https only when the runner serves TLS on the Docker bridge (``--tls-for-containers``)

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}/engines/v1/"


class Unreachable(UserError):
    """No candidate reached the runner; ``attempts`` says what each one did."""

    def __init__(self, docker: DockerHost, state: RunnerState, attempts: list[Attempt]) -> None:
        self.attempts = attempts
        lines = "\n".join(f"  - {attempt.describe()}" for attempt in attempts)
        super().__init__(
            f"no container on the Docker engine at {docker.endpoint} ({docker.kind}) reaches the runner on port "
            f"{state.port}; tried:\n{lines}\n"
            f"the runner listens on {', '.join(state.hosts)}; a firewall may drop the containers' traffic, "
            "or the engine has no route to this host"
        )


def cache_key(docker: DockerHost, port: int) -> str:
    return f"{docker.endpoint} {port}"


def _cache_path() -> Path:
    return runner_dir() / "reach.json"


RECHECK_SECONDS = 30.0


def _checked_path() -> Path:
    return runner_dir() / "reach-checked.json"


def _check_record(docker: DockerHost, state: RunnerState, route: ContainerRoute) -> dict[str, object]:
    return {"key": cache_key(docker, state.port), "host": route.host, "host_gateway": route.host_gateway, "pid": state.pid}


def _recently_checked(docker: DockerHost, state: RunnerState, route: ContainerRoute) -> bool:
    try:
        record = json.loads(_checked_path().read_text())
        checked_at = float(record.pop("at"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
    return record == _check_record(docker, state, route) and 0 <= time.time() - checked_at < RECHECK_SECONDS


def _note_checked(docker: DockerHost, state: RunnerState, route: ContainerRoute) -> None:
    path = _checked_path()
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps({**_check_record(docker, state, route), "at": time.time()}))
    os.replace(temporary, path)


def cached_route(docker: DockerHost, port: int) -> ContainerRoute | None:
    """The last route that worked for this engine and port, unchecked."""
    try:
        entry = json.loads(_cache_path().read_text())[cache_key(docker, port)]
        return ContainerRoute(str(entry["host"]), port, bool(entry.get("host_gateway")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _remember(docker: DockerHost, route: ContainerRoute) -> None:
    path = _cache_path()
    try:
        entries = json.loads(path.read_text())
        entries = entries if isinstance(entries, dict) else {}
    except (OSError, ValueError):
        entries = {}
    entries[cache_key(docker, route.port)] = {"host": route.host, "host_gateway": route.host_gateway}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(entries, indent=2))
    os.replace(temporary, path)


def container_route(docker: DockerHost, state: RunnerState, fresh: bool = False) -> ContainerRoute:
    """The route a container on ``docker`` takes to the runner ``state`` describes; raises ``Unreachable``.

    ``fresh``: probe even a route checked a moment ago (``doctor`` does)."""
    if not state.reach_secret:
        raise UserError(
            f"the runner (pid {state.pid}) predates the reach probe: restart it with `compose-models stop` once its models are idle"
        )
    cached = cached_route(docker, state.port)
    scheme = state.container_scheme
    if cached is not None:
        cached = replace(cached, scheme=scheme)
        if not fresh and _recently_checked(docker, state, cached):
            return cached
        attempts = probe(docker, state.port, state.reach_secret, [Candidate(cached.host, cached.host_gateway)], scheme)
        if attempts[-1].outcome == ANSWERED:
            _note_checked(docker, state, cached)
            return cached
    attempts = probe(docker, state.port, state.reach_secret, candidates(docker, state.hosts), scheme)
    if not attempts or attempts[-1].outcome != ANSWERED:
        raise Unreachable(docker, state, attempts)
    winner = attempts[-1].candidate
    route = ContainerRoute(winner.host, state.port, winner.host_gateway, scheme)
    _remember(docker, route)
    _note_checked(docker, state, route)
    return route
