"""One runner for the package, its GGUF models on the batched engine (one CPU thread, four slots)."""

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.integration.api.conftest import serving_runner

SLOTS = 4


@pytest.fixture(scope="package")
def batched_runner(tmp_path_factory: pytest.TempPathFactory, smollm2_gguf: Path) -> Iterator[str]:
    home = tmp_path_factory.mktemp("batched-runner")
    environment = {
        "COMPOSE_MODELS_LLAMA_BACKEND": "batched",
        "COMPOSE_MODELS_BATCHED_SLOTS": str(SLOTS),
        "COMPOSE_MODELS_BATCHED_THREADS": "1",  # a shared 2-core machine: no thread barrier to stall
    }
    with serving_runner(home, smollm2_gguf, **environment) as url:
        yield url


@pytest.fixture
def client(batched_runner: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{batched_runner}/engines/v1", api_key="not-needed", max_retries=0, timeout=120)
