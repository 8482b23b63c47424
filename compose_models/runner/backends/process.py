"""An engine that is a local server process on a loopback port: start, health-poll, stop, crash report.

No engine outlives its runner, however the runner ends (SIGKILL included), on macOS as on Linux:

- Each engine has a watchdog (``watchdog.py``), started first, that leads a process group of its own;
  the engine joins that group. The watchdog reads a pipe whose write end only the runner holds
  (non-inheritable, so no other child keeps it open) and kills the group at end-of-file: when the
  runner is gone, or when the runner lets it go after the engine ended. The engine itself stays the
  runner's child: its pid, exit status and crash report are the runner's to see, as before.
- On Linux the engine also asks the kernel for SIGKILL when the runner dies (PDEATHSIG), a second
  layer. ``COMPOSE_MODELS_NO_PDEATHSIG=1`` turns it off, for tests that prove the watchdog alone.
- Each engine is recorded in the runner's state folder (``leftovers.py``), so should both fail, the
  next runner ends what a dead runner left.

Stopping signals the group: SIGTERM (the watchdog ignores it), then SIGKILL after a grace period.
"""

import asyncio
import ctypes
import os
import secrets
import select
import signal
import socket
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import cast

import httpx

from compose_models.runner.backends import watchdog
from compose_models.runner.backends.engine import EngineSpec
from compose_models.runner.backends.leftovers import EngineRecords
from compose_models.runner.errors import EngineError

NO_PDEATHSIG_VARIABLE = "COMPOSE_MODELS_NO_PDEATHSIG"  # "1": no PDEATHSIG, for tests of the watchdog alone
_PR_SET_PDEATHSIG = 1
_HEALTH_INTERVAL = 0.1
_LOG_TAIL_LINES = 12
_WATCHDOG_START_TIMEOUT = 30.0  # a Python start, on a machine busy loading models


def _dying_with(runner_pid: int) -> None:
    """In the engine's process before exec, on Linux: SIGKILL when the runner dies, even if it already has."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != runner_pid:
        os.kill(os.getpid(), signal.SIGKILL)


def _pdeathsig_wanted() -> bool:
    return sys.platform.startswith("linux") and os.environ.get(NO_PDEATHSIG_VARIABLE) != "1"


class _Watchdog:
    """A started watchdog (``watchdog.py``): its process, which leads the engine's group, and the
    runner's end of its pipe, the only one."""

    def __init__(self, log: int) -> None:
        leash_read, self.leash = os.pipe()  # non-inheritable: no other child of the runner holds the write end
        ready_read, ready_write = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", watchdog.__name__], stdin=leash_read, stdout=ready_write, stderr=log,
                process_group=0,
            )  # fmt: skip
        except BaseException:
            os.close(self.leash)
            os.close(ready_read)
            raise
        finally:
            os.close(leash_read)
            os.close(ready_write)
        self._ready_pipe = ready_read

    @property
    def group(self) -> int:
        return self.process.pid

    def wait_until_watching(self, timeout: float) -> str | None:
        """None once it watches (it ignores SIGTERM from then on), else what went wrong."""
        deadline = time.monotonic() + timeout
        said = b""
        try:
            while len(said) < len(watchdog.READY):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not select.select([self._ready_pipe], [], [], remaining)[0]:
                    return f"it did not start within {timeout:.0f}s"
                chunk = os.read(self._ready_pipe, 64)
                if not chunk:
                    break
                said += chunk
        finally:
            os.close(self._ready_pipe)
        if said != watchdog.READY:
            return f"it ended: {exit_description(self.process.wait())}" if self.process.poll() is not None else "it said nothing"
        return None

    def let_go(self) -> None:
        """Close the runner's end: the watchdog kills what is left of the group, then itself. Idempotent."""
        if self.leash >= 0:
            os.close(self.leash)
            self.leash = -1

    async def reap(self, within: float = 5.0) -> None:
        """After ``let_go``: wait for its exit, so no zombie is left."""
        try:
            await asyncio.to_thread(self.process.wait, within)
        except subprocess.TimeoutExpired:
            self.process.kill()  # our unreaped child: its pid is still its own
            await asyncio.to_thread(self.process.wait)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return cast(int, probe.getsockname()[1])


class ProcessEngine(ABC):
    """One engine process; subclasses say how to start it and where it reports readiness."""

    health_path = "/health"

    def __init__(self, spec: EngineSpec, log_path: Path) -> None:
        self.spec = spec
        self.log_path = log_path
        self.port = free_port()
        self.api_key = secrets.token_urlsafe(32)
        self.process: subprocess.Popen[bytes] | None = None
        self._watchdog: _Watchdog | None = None
        self._records = EngineRecords()
        self._let_go_of = False  # the ended engine's watchdog and record
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
        if self.process is None:
            return False
        if self.process.poll() is None:
            return True
        self._let_go()
        return False

    def _let_go(self) -> None:
        """The engine has ended and is reaped: its watchdog and its record go too."""
        if self._let_go_of or self.process is None or self._watchdog is None:
            return
        self._let_go_of = True
        self._watchdog.let_go()
        self._records.remove(self.process.pid)

    async def start(self, timeout: float) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self._log_offset = log.tell()
            watchdog_ = self._watchdog = _Watchdog(log.fileno())
            runner_pid = os.getpid()
            try:
                problem = await asyncio.to_thread(watchdog_.wait_until_watching, _WATCHDOG_START_TIMEOUT)
                if problem is None:
                    self.process = subprocess.Popen(
                        self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                        env=self.environment(), process_group=watchdog_.group,
                        preexec_fn=(lambda: _dying_with(runner_pid)) if _pdeathsig_wanted() else None,
                    )  # fmt: skip
            except BaseException:  # no engine (cancelled, or it could not be executed): the watchdog ends
                watchdog_.let_go()
                raise
            if problem is not None:
                watchdog_.let_go()
                await watchdog_.reap()
                raise EngineError(f"the watchdog of the engine for {self.spec.alias} failed: {problem}")
        assert self.process is not None  # started above, or the try raised
        self._records.add(self.process.pid)
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2.0, headers=self.auth_headers) as client:
            while True:
                if not self.is_running():
                    raise EngineError(self.crash_report())
                try:
                    if (await client.get(self.base_url + self.health_path)).status_code == 200:
                        self._ready = True
                        self._records.add(self.process.pid)  # as it runs now (a Python may re-execute itself)
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    await self.stop()
                    raise EngineError(f"engine for {self.spec.alias} was not ready after {timeout:.0f}s")
                await asyncio.sleep(_HEALTH_INTERVAL)

    async def stop(self, grace: float = 5.0) -> None:
        """SIGTERM to the process group, then SIGKILL after ``grace`` seconds."""
        process, watchdog_ = self.process, self._watchdog
        self._stopping = True
        if process is None or watchdog_ is None:
            return
        if process.poll() is None:
            # The group is the watchdog's: ours, and alive, until we reap it, so never another's.
            _signal_group(watchdog_.group, signal.SIGTERM)
            deadline = time.monotonic() + grace
            while process.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if process.poll() is None:
                _signal_group(watchdog_.group, signal.SIGKILL)
                await asyncio.to_thread(process.wait)
        self._let_go()
        await watchdog_.reap()

    async def crashed(self, within: float = 0.0) -> str | None:
        """The crash report once the process has exited on its own, waiting up to ``within`` seconds for
        that (a dropped connection comes a moment before the exit status); None while it runs or once stopped."""
        deadline = time.monotonic() + within
        while self.is_running() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if self.process is None or self.is_running() or self._stopping:
            return None
        if self._watchdog is not None:
            await self._watchdog.reap()
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
