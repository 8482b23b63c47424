"""Callers that need the runner at the same moment (Compose runs the docker-model plugin several times
at once) start one runner between them, and every one of them is handed it."""

import os
import subprocess
import sys

from tests.conftest import proc_dir

_ENSURE = "import os; from compose_models.runner.control import daemon; print(daemon.ensure_running(int(os.environ['COMPOSE_MODELS_PORT'])).pid)"


def _runners_of(home: str) -> list[int]:
    found = []
    for entry in proc_dir().iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            environment = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in command and f"COMPOSE_MODELS_HOME={home}".encode() in environment:
            found.append(int(entry.name))
    return found


def test_concurrent_callers_start_one_runner() -> None:
    callers = [subprocess.Popen([sys.executable, "-c", _ENSURE], stdout=subprocess.PIPE, text=True) for _ in range(3)]
    pids = {int(caller.communicate(timeout=120)[0].strip()) for caller in callers}
    assert len(pids) == 1, pids
    assert _runners_of(os.environ["COMPOSE_MODELS_HOME"]) == list(pids)
