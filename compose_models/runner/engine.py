"""One inference engine process: llama-cpp-python's OpenAI server for one model.

The process is started in its own session (so the whole group can be signalled) and, on Linux,
asks the kernel to send it SIGTERM when the runner dies, so no engine outlives the runner however
the runner exits.
"""

import asyncio
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

_PR_SET_PDEATHSIG = 1


class EngineError(Exception):
    """The engine could not start or stopped unexpectedly; the message carries its log tail."""


@dataclass(frozen=True)
class EngineSpec:
    """Everything that decides how an engine process is started; equal specs share a process."""

    model_path: Path
    alias: str
    context_size: int
    settings: tuple[tuple[str, object], ...] = ()


def _die_with_parent() -> None:
    os.setsid()
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _format(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


@dataclass
class EngineProcess:
    spec: EngineSpec
    log_path: Path
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen | None = None
    started_at: float = 0.0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        argv = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.spec.model_path),
            "--model_alias", self.spec.alias,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--n_ctx", str(self.spec.context_size),
        ]
        settings = dict(self.spec.settings)
        settings.pop("jinja", None)
        settings.setdefault("verbose", False)
        for name, value in settings.items():
            argv += [f"--{name}", _format(value)]
        return argv

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def start(self, timeout: float = 120.0) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        self.started_at = time.monotonic()
        deadline = self.started_at + timeout
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                if not self.is_running():
                    raise EngineError(f"engine for {self.spec.alias} exited while loading: {self.log_tail()}")
                try:
                    if (await client.get(f"{self.base_url}/v1/models")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    await self.stop()
                    raise EngineError(f"engine for {self.spec.alias} was not ready after {timeout:.0f}s")
                await asyncio.sleep(0.1)

    async def stop(self, grace: float = 5.0) -> None:
        """SIGTERM to the process group, then SIGKILL after ``grace`` seconds."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        _signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if process.poll() is None:
            _signal_group(process.pid, signal.SIGKILL)
            await asyncio.to_thread(process.wait)

    def log_tail(self, limit: int = 1024) -> str:
        try:
            data = self.log_path.read_bytes()[-limit:]
        except OSError:
            return "(no engine log)"
        return data.decode(errors="replace").strip().replace("\n", " | ")


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        pass
