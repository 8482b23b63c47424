"""``compose-models bench``: the embedded model measured through a real runner and straight against its engine,
as JSON; and the clear refusals (an unknown model, bad levels) that exit non-zero."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import LOCAL_MODEL_TAG, detached_runner, run_cli

pytestmark = pytest.mark.model

LEVEL_KEYS = {
    "target", "concurrency", "requests", "failed", "completion_tokens", "seconds", "tokens_per_second",
    "stream_tokens_per_second_p50", "ttft_ms_p50", "ttft_ms_p95", "latency_ms_p50", "latency_ms_p95",
}  # fmt: skip


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory, smollm2_gguf: Path) -> Iterator[dict[str, str]]:
    with detached_runner(tmp_path_factory.mktemp("bench-runner"), smollm2_gguf) as environment:
        yield environment


def test_bench_json_through_the_runner_and_straight_to_the_engine(environment: dict[str, str]) -> None:
    done = run_cli("bench", "--concurrency", "1,2", "--requests", "2", "--max-tokens", "8", "--direct", "--json",
                   env=environment)  # fmt: skip
    document = json.loads(done.stdout)
    assert set(document) == {"model", "runner", "engine", "max_tokens", "results", "errors"}
    assert document["model"] == LOCAL_MODEL_TAG  # no name given: the embedded model
    assert document["runner"] == f"http://127.0.0.1:{environment['COMPOSE_MODELS_PORT']}"
    assert document["engine"] in ("llama-server", "llama-cpp-python", "batched")
    assert document["max_tokens"] == 8 and document["errors"] == []
    results = document["results"]
    assert [(level["target"], level["concurrency"]) for level in results] == [
        ("runner", 1), ("direct", 1), ("runner", 2), ("direct", 2)
    ]  # fmt: skip
    for level in results:
        assert set(level) == LEVEL_KEYS, level
        assert level["requests"] == 2 and level["failed"] == 0, level
        assert 2 <= level["completion_tokens"] <= 16, level
        assert level["tokens_per_second"] > 0 and level["seconds"] > 0, level
        assert 0 < level["ttft_ms_p50"] <= level["ttft_ms_p95"] <= level["latency_ms_p95"], level
        assert 0 < level["latency_ms_p50"] <= level["latency_ms_p95"], level


def test_bench_of_an_unknown_model_fails_with_its_name(environment: dict[str, str]) -> None:
    done = run_cli("bench", "nobody/nothing:1", "--json", check=False, env=environment)
    assert done.returncode != 0 and done.stdout == ""
    assert "'nobody/nothing:1' is not in the local store" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("levels", ["0", "1,x", "", "65"])
def test_bench_refuses_bad_levels(environment: dict[str, str], levels: str) -> None:
    done = run_cli("bench", "--concurrency", levels, check=False, env=environment)
    assert done.returncode != 0
    assert f"--concurrency {levels!r}: expected comma-separated numbers from 1 to 64" in done.stderr
