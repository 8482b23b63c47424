"""Schemathesis generates requests from /openapi.json against a runner with the real model: no 5xx, and
answers as documented. A longer run: fuzz/schemathesis_run.py (docs/fuzzing.md)."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, cli_headers
from tests.integration.api.conftest import serving_runner

pytestmark = pytest.mark.model

EXAMPLES_PER_OPERATION = 8
SEED = 20261125  # fixed, so a failure in CI can be replayed
# What the document supports: every answer's content types, and each dialect's error schema (an
# Anthropic route answering in OpenAI's shape fails response_schema_conformance)
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


@pytest.fixture(scope="module")
def fuzzed_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzzed-runner")


@pytest.fixture(scope="module")
def fuzzed_runner(fuzzed_home: Path, smollm2_gguf: Path) -> Iterator[str]:
    """A runner of its own: generated requests delete and retag models."""
    with serving_runner(fuzzed_home, smollm2_gguf) as url:
        yield url


def test_no_server_error_on_generated_requests(fuzzed_runner: str, fuzzed_home: Path, tmp_path: Path) -> None:
    schemathesis = Path(sys.executable).parent / "st"
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.integration.api.schemathesis_hooks", "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [str(schemathesis), "run", f"{fuzzed_runner}/openapi.json", "--checks", CHECKS,
         "--phases", "examples,fuzzing", "--max-examples", str(EXAMPLES_PER_OPERATION), "--seed", str(SEED),
         "--workers", "1", "--request-timeout", "60", "--no-shrink", "--suppress-health-check", "all",
         "--exclude-method", "DELETE",  # deleting the model would leave the rest nothing to run; tested elsewhere
         # as this machine's CLI, so management routes are fuzzed, not refused
         "--header", f"Authorization: {cli_headers(fuzzed_home)['Authorization']}",
         "--report", "junit", "--report-dir", str(tmp_path)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
