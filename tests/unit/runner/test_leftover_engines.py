"""A runner's engine records (runner/backends/leftovers.py) on real processes: which leftovers the next
runner ends, and which processes it never touches. The "engines" here are plain sleeping Pythons."""

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from compose_models.runner.backends import leftovers
from compose_models.runner.backends.leftovers import EngineRecords, identify
from tests.conftest import require

_SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]


@pytest.fixture
def sleepers() -> Iterator[list[subprocess.Popen]]:
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        process.kill()
        process.wait()


def _sleeper(sleepers: list[subprocess.Popen], *marker: str) -> subprocess.Popen:
    process = subprocess.Popen(_SLEEPER + list(marker))
    sleepers.append(process)
    deadline = time.monotonic() + 10
    while (found := identify(process.pid)) is None or "time.sleep" not in found.command:  # until it has exec'd
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return process


def _record(folder: Path, engine: int, runner: leftovers.ProcessIdentity) -> None:
    identity = identify(engine)
    assert identity is not None
    folder.mkdir(parents=True, exist_ok=True)
    record = {"engine": vars(identity), "runner": vars(runner)}
    (folder / f"engine-{engine}.json").write_text(json.dumps(record))


def _gone(process: subprocess.Popen) -> bool:
    deadline = time.monotonic() + 10
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    return process.poll() is not None


def test_identity_tells_a_process_by_start_time_and_command_line(sleepers: list[subprocess.Popen]) -> None:
    first = identify(_sleeper(sleepers, "first").pid)
    second = identify(_sleeper(sleepers, "second").pid)
    assert first is not None and second is not None
    assert first.command == " ".join(_SLEEPER + ["first"]) and first.group == os.getpgrp()
    assert identify(first.pid) == first  # the same process, read again
    assert first != second


def test_ps_and_proc_see_the_same_process() -> None:
    """macOS reads ``ps``; Linux reads /proc, and has a ``ps`` too, so both readings are compared here."""
    require(sys.platform.startswith("linux"), "/proc and ps on one machine", linux_only=True)
    from_proc, from_ps = leftovers._identify_from_proc(os.getpid()), leftovers._identify_with_ps(os.getpid())
    assert from_proc is not None and from_ps is not None
    assert (from_ps.pid, from_ps.group, from_ps.command) == (from_proc.pid, from_proc.group, from_proc.command)
    assert len(from_ps.started.split()) == 5  # lstart: Sun Dec  6 05:04:42 2026


def test_a_dead_runners_engine_is_ended_and_a_live_runners_and_a_reused_pid_are_not(
    tmp_path: Path, sleepers: list[subprocess.Popen]
) -> None:
    folder = tmp_path / "engines"
    dead_runner = _sleeper(sleepers, "dead runner")
    dead = identify(dead_runner.pid)
    assert dead is not None
    dead_runner.kill()
    dead_runner.wait()
    live_runner = identify(_sleeper(sleepers, "live runner").pid)
    assert live_runner is not None

    leftover = _sleeper(sleepers, "leftover engine")
    _record(folder, leftover.pid, dead)
    anothers = _sleeper(sleepers, "another live runner's engine")
    _record(folder, anothers.pid, live_runner)
    unrelated = _sleeper(sleepers, "unrelated")
    _record(folder, unrelated.pid, dead)
    record = json.loads((folder / f"engine-{unrelated.pid}.json").read_text())
    record["engine"]["started"] = "0"  # the pid's earlier owner started at another time
    (folder / f"engine-{unrelated.pid}.json").write_text(json.dumps(record))

    said = EngineRecords(folder).end_leftovers()

    assert _gone(leftover)
    assert unrelated.poll() is None and anothers.poll() is None
    assert any(line.startswith(f"ended engine pid {leftover.pid}, left running by runner pid {dead.pid}") for line in said)
    assert any(line.startswith(f"an engine record names pid {unrelated.pid}, now another process's") for line in said)
    assert len(said) == 2
    assert sorted(path.name for path in folder.iterdir()) == [f"engine-{anothers.pid}.json"]  # the live runner's stays
