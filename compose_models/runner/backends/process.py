"""An engine that is a local server process on a loopback port: start, health-poll, stop, crash report.

The process runs in its own session, so the whole group (and any grandchildren) can be signalled,
and on Linux asks the kernel for SIGKILL when the runner dies: no engine outlives the runner
however the runner exits. (macOS has no such request; there the runner's signal handlers and
``Scheduler.shutdown`` stop the engines.)
"""

import asyncio
import ctypes
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from pathlib import Path

import httpx

from compose_models.runner.backends.engine import EngineError, EngineSpec

_PR_SET_PDEATHSIG = 1
_HEALTH_INTERVAL = 0.1
_LOG_TAIL_LINES = 12


def _own_session_dying_with_parent() -> None:
    os.setsid()
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ProcessEngine(ABC):
    """One engine process; subclasses say how to start it and where it reports readiness."""

    health_path = "/health"

    def __init__(self, spec: EngineSpec, log_path: Path) -> None:
        self.spec = spec
        self.log_path = log_path
        self.port = free_port()
        self.api_key = secrets.token_urlsafe(32)
        self.process: subprocess.Popen | None = None
        self._ready = False
        self._stopping = False
        self._log_offset = 0  # where this process's part of the (appended) log begins

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.api_key}"}

    @abstractmethod
    def command(self) -> list[str]: ...

    def environment(self) -> dict[str, str]:
        """The process's environment, which carries its key: unlike the command line, other users cannot read it."""
        return dict(os.environ)

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def start(self, timeout: float) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self._log_offset = log.tell()
            self.process = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=self.environment(), preexec_fn=_own_session_dying_with_parent,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2.0, headers=self.auth_headers) as client:
            while True:
                if not self.is_running():
                    raise EngineError(self.crash_report())
                try:
                    if (await client.get(self.base_url + self.health_path)).status_code == 200:
                        self._ready = True
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    await self.stop()
                    raise EngineError(f"engine for {self.spec.alias} was not ready after {timeout:.0f}s")
                await asyncio.sleep(_HEALTH_INTERVAL)

    async def stop(self, grace: float = 5.0) -> None:
        """SIGTERM to the process group, then SIGKILL after ``grace`` seconds."""
        process = self.process
        self._stopping = True
        if process is None or process.poll() is not None:
            return
        _signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if process.poll() is None:
            _signal_group(process.pid, signal.SIGKILL)
            await asyncio.to_thread(process.wait)

    async def crashed(self, within: float = 0.0) -> str | None:
        """The crash report once the process has exited on its own, waiting up to ``within`` seconds for
        that (a dropped connection comes a moment before the exit status); None while it runs or once stopped."""
        deadline = time.monotonic() + within
        while self.is_running() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if self.process is None or self.process.poll() is None or self._stopping:
            return None
        return self.crash_report()

    def crash_report(self) -> str:
        """What the exited process died of and the last lines of its log."""
        assert self.process is not None and self.process.returncode is not None
        phase = "" if self._ready else " while loading"
        return (
            f"engine for {self.spec.alias!r} crashed{phase}: {exit_description(self.process.returncode)}; "
            f"the last lines of its log ({self.log_path}): {self.log_tail()}"
        )

    def log_tail(self, lines: int = _LOG_TAIL_LINES, limit: int = 4096) -> str:
        """The last lines this process wrote to its log, on one line."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(max(self._log_offset, log.seek(0, os.SEEK_END) - limit))
                data = log.read()
        except OSError:
            return "(no engine log)"
        kept = [line.strip() for line in data.decode(errors="replace").splitlines() if line.strip()]
        return " | ".join(kept[-lines:]) or "(the log is empty)"


def exit_description(returncode: int) -> str:
    """``killed by SIGSEGV`` for a process ended by a signal (a negative return code), else its exit status."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with status {returncode}"


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        pass
