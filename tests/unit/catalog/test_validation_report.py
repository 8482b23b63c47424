"""How ``catalog validate`` reports, as text: every measured step, then the failure if there is one."""

from compose_models.catalog.validate import ValidationReport
from compose_models.store.memory_estimate import MemoryEstimate

# The compute allowance is the runner's, on top of the model's footprint: the report leaves it out.
MEMORY = MemoryEstimate(weights=98_362_432, kv_cache=188_743_680, context_size=8192, compute=71_926_849)


def test_a_passing_report() -> None:
    report = ValidationReport(
        "localhost:5000/team/smollm2:135M-Q4_1-8k", pull_seconds=0.29, load_seconds=0.72, prompt_seconds=0.5,
        completion_tokens=8, memory=MEMORY, answer=" The capital of France is Paris.\n",
    )  # fmt: skip
    assert report.passed and report.tokens_per_second == 16.0
    assert report.to_text().splitlines() == [
        "validate localhost:5000/team/smollm2:135M-Q4_1-8k: passed",
        "  pull     0.29 s",
        "  load     0.72 s",
        "  prompt   8 tokens in 0.50 s (16.0 tokens/s)",
        "  memory   ~273.81MiB (weights 93.81MiB + KV cache 180MiB for 8192 tokens of context)",
        "  answer   The capital of France is Paris.",
    ]
    assert report.to_json()["memory_estimate"] == {
        "total": 287_106_112, "weights": 98_362_432, "kv_cache": 188_743_680, "context_size": 8192,
    }  # fmt: skip


def test_a_failing_report_names_the_step() -> None:
    report = ValidationReport(
        "localhost:5000/team/broken:1B-Q4_1", pull_seconds=1.5, memory=MemoryEstimate(1024, None, 4096, 67_108_915),
        failed_step="load", error="the runner could not load it",
    )  # fmt: skip
    assert not report.passed and report.tokens_per_second is None
    assert report.to_text().splitlines() == [
        "validate localhost:5000/team/broken:1B-Q4_1: FAILED at the load step",
        "  pull     1.50 s",
        "  memory   ~1KiB (weights 1KiB + unknown KV cache for 4096 tokens of context)",
        "  load     the runner could not load it",
    ]
