"""The engines a runner started, recorded in its state folder, so that the next runner ends those a dead runner left.

An engine ends with its runner: its watchdog kills it when the runner is gone (``watchdog.py``), and
on Linux the kernel does too (PDEATHSIG). Should both fail (the watchdog was killed as well), the
engine would hold its memory, gigabytes of it, with no runner to stop or count it. So each engine has
a record in ``$COMPOSE_MODELS_HOME/runner/engines/``: its pid, start time, process group and command
line as the system reports them, and the same of the runner that started it. The record goes when the
runner has seen the engine end.

At start (``server.py``) the runner ends the engine of each record whose runner is gone, but only a
process that is still that engine: the same pid, start time and command line. A pid the system has
since given to another process is left alone, and the record dropped.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from compose_models.home import runner_dir

_GONE_WAIT = 5.0  # seconds to wait for an ended leftover to be gone, so its memory is free


def records_dir() -> Path:
    return runner_dir() / "engines"


@dataclass(frozen=True)
class ProcessIdentity:
    """What tells one process from another that later gets its pid."""

    pid: int
    started: str  # Linux: clock ticks from boot to its start (/proc/<pid>/stat); macOS: ps's lstart
    group: int
    command: str  # its arguments, joined by spaces


def identify(pid: int) -> ProcessIdentity | None:
    """The live process ``pid`` (None when there is none, or only its zombie)."""
    if sys.platform.startswith("linux"):
        return _identify_from_proc(pid)
    return _identify_with_ps(pid)


def _identify_from_proc(pid: int) -> ProcessIdentity | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces and parentheses
    if fields[0] in ("Z", "X"):
        return None
    command = " ".join(argument.decode(errors="replace") for argument in arguments.split(b"\0") if argument)
    return ProcessIdentity(pid, started=fields[19], group=int(fields[2]), command=command)


def _identify_with_ps(pid: int) -> ProcessIdentity | None:
    try:
        listed = subprocess.run(
            ["ps", "-ww", "-o", "pgid=,stat=,lstart=,command=", "-p", str(pid)],
            capture_output=True, text=True, timeout=10, env={**os.environ, "LC_ALL": "C"},
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = listed.stdout.strip().split(None, 7)  # pgid, stat, lstart's five words (Sun Dec  6 05:04:42 2026), command
    if listed.returncode != 0 or len(parts) < 8 or parts[1].startswith("Z"):
        return None
    return ProcessIdentity(pid, started=" ".join(parts[2:7]), group=int(parts[0]), command=parts[7])


class EngineRecords:
    """The records of this runner's engines, one file each, in ``folder``."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or records_dir()

    def _path(self, pid: int) -> Path:
        return self.folder / f"engine-{pid}.json"

    def add(self, pid: int) -> None:
        """Record the engine ``pid`` as the system sees it now (nothing if it is already gone)."""
        engine, runner = identify(pid), identify(os.getpid())
        if engine is None or runner is None:
            return
        path = self._path(pid)
        temporary = path.with_suffix(".tmp")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            temporary.write_text(json.dumps({"engine": asdict(engine), "runner": asdict(runner)}))
            os.replace(temporary, path)
        except OSError as error:
            # A record only backs up the watchdog: a full disk must not cost the engine (and the answer).
            temporary.unlink(missing_ok=True)
            with contextlib.suppress(OSError, ValueError):
                print(f"engine {pid} not recorded in {self.folder}: {error}", file=sys.stderr, flush=True)

    def remove(self, pid: int) -> None:
        self._path(pid).unlink(missing_ok=True)

    def end_leftovers(self) -> list[str]:
        """End the engines of runners that are gone, each only if it is still that engine; drop their records.
        Returns what was done, one sentence each, for the runner's log."""
        said = []
        for path in sorted(self.folder.glob("engine-*.json")):
            try:
                record = json.loads(path.read_text())
                engine, runner = ProcessIdentity(**record["engine"]), ProcessIdentity(**record["runner"])
            except (OSError, ValueError, TypeError, KeyError):
                said.append(f"dropped the unreadable engine record {path}")
                path.unlink(missing_ok=True)
                continue
            if runner.pid != os.getpid() and identify(runner.pid) == runner:
                continue  # another runner of this home is alive: its engines are its own
            said += _end_if_still(engine, runner)
            path.unlink(missing_ok=True)
        return said


def _end_if_still(engine: ProcessIdentity, runner: ProcessIdentity) -> list[str]:
    """SIGKILL for ``engine`` if the process with its pid is still it; what was done."""
    handle = _pidfd(engine.pid)  # on Linux the signal goes to the process identified, whatever happens to the pid since
    try:
        now = identify(engine.pid)
        if now is None:
            return []
        if now != engine:
            return [
                f"an engine record names pid {engine.pid}, now another process's ({now.command[:120]!r}, started "
                f"{now.started}, not {engine.started}): left alone"
            ]
        if handle is not None:
            signal.pidfd_send_signal(handle, signal.SIGKILL)
        else:
            os.kill(engine.pid, signal.SIGKILL)
    except ProcessLookupError:
        return []
    finally:
        if handle is not None:
            os.close(handle)
    deadline = time.monotonic() + _GONE_WAIT
    while identify(engine.pid) == engine and time.monotonic() < deadline:
        time.sleep(0.05)
    return [f"ended engine pid {engine.pid}, left running by runner pid {runner.pid}, which is gone: {engine.command}"]


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):  # not Linux (5.3+), or no such process
        return None
