"""The running runner's pid, port and addresses, kept beside the store so every command can find it.

Every command takes the port from here, never from the default: the runner moves to another port
when something else holds the preferred one, and records who did. The reach secret makes the file
private to its owner.
"""

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from compose_models.home import runner_dir

DEFAULT_PORT = 12434


def default_port() -> int:
    return int(os.environ.get("COMPOSE_MODELS_PORT", DEFAULT_PORT))


@dataclass
class RunnerState:
    pid: int
    port: int
    hosts: list[str]
    reach_secret: str = ""
    preferred_port: int | None = None
    preferred_port_holder: str | None = None
    tls_cert: str | None = None  # the certificate chain it serves over TLS, which the CLI pins; None: plain HTTP
    tls_ca: str | None = None  # the local CA's certificate, for others to trust (``--tls-self-signed``)
    tls_for_containers: bool = False  # the Docker bridge serves TLS too; containers get https:// URLs

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"

    @property
    def host_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def container_scheme(self) -> str:
        return "https" if self.tls_for_containers else "http"


def _state_path() -> Path:
    return runner_dir() / "state.json"


def write_state(state: RunnerState) -> None:
    path = _state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(json.dumps(asdict(state)))
    os.replace(temporary, path)


def read_state() -> RunnerState | None:
    """The recorded state, if its process is still alive."""
    try:
        state = RunnerState(**json.loads(_state_path().read_text()))
        os.kill(state.pid, 0)
    except (OSError, ValueError, TypeError):
        return None
    return state


def clear_state(pid: int) -> None:
    try:
        if json.loads(_state_path().read_text()).get("pid") == pid:
            _state_path().unlink()
    except (OSError, ValueError):
        pass
