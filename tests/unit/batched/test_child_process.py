"""A native crash inside a test marked ``@in_child_process`` fails that test; the run goes on to its summary.

Checked on a real pytest run of a small test file, with a real segmentation fault (``ctypes.string_at(0)``).
"""

import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

TESTS = '''
import ctypes

import pytest

from tests.child_process import in_child_process


@pytest.fixture
def word() -> str:
    return "fixture"


{decorator}
def test_segfaults(word):
    assert word == "fixture"
    ctypes.string_at(0)


@in_child_process
def test_fails_an_assertion_in_the_child():
    assert 1 + 1 == 3


@in_child_process
def test_passes_in_the_child(word):
    assert word == "fixture"


def test_runs_after_the_crash():
    pass
'''


def _pytest(tmp_path: Path, decorator: str) -> subprocess.CompletedProcess:
    test_file = tmp_path / "test_native_crash.py"
    test_file.write_text(TESTS.format(decorator=decorator))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
        cwd=tmp_path, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_a_segfault_in_a_child_process_is_one_failed_test(tmp_path: Path) -> None:
    result = _pytest(tmp_path, "@in_child_process")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output  # pytest's "some tests failed", not a death by signal
    assert result.stdout.strip().splitlines()[-1].startswith("2 failed, 2 passed"), output
    assert "FAILED test_native_crash.py::test_segfaults" in output
    assert "the test's child process died: killed by SIGSEGV" in output
    assert "assert (1 + 1) == 3" in output  # a plain failure keeps its message


def test_without_a_child_process_the_same_segfault_ends_the_whole_run(tmp_path: Path) -> None:
    result = _pytest(tmp_path, "")
    assert result.returncode == -signal.SIGSEGV, result.stdout + result.stderr
    assert " passed" not in result.stdout  # no summary line
