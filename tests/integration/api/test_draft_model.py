"""A draft model (speculative decoding) on a real runner and llama-server: SmolLM2 drafts for itself and the
greedy answer is unchanged; a draft of another vocabulary, a path and a model not in the store are refused
with what is wrong; the draft's memory counts in the budget. (llama-cpp-python's refusal: the scheduler's
unit tests.)"""

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import LOCAL_MODEL_TAG, cli_headers, run_cli
from tests.integration.api.conftest import serving_runner
from tests.tiny_ggufs import write_other_vocabulary_llama

OTHER_VOCABULARY = "local/other-vocabulary:latest"
# SmolLM2 needs about 185 MiB at 1024 tokens and 208 MiB at 2048 (store/memory_estimate.py): with itself as
# its draft, 370 MiB and 416 MiB; the runner's budget holds the first pair and not the second.
BUDGET = "400MiB"
QUESTION = {"messages": [{"role": "user", "content": "Name three colours."}], "temperature": 0, "max_tokens": 24}


def _environment(home: Path) -> dict[str, str]:
    return {**os.environ, "COMPOSE_MODELS_HOME": str(home)}


@pytest.fixture(scope="module")
def draft_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("draft-runner")
    other = write_other_vocabulary_llama(home / "other-vocabulary.gguf")
    run_cli("package", "--gguf", str(other), OTHER_VOCABULARY, env=_environment(home))
    return home


@pytest.fixture(scope="module")
def draft_runner(draft_home: Path, smollm2_gguf: Path) -> Iterator[str]:
    with serving_runner(draft_home, smollm2_gguf, COMPOSE_MODELS_MEMORY_BUDGET=BUDGET) as url:
        yield url


def _configure(home: Path, *options: str, flags: tuple[str, ...] = (), check: bool = True):
    """``compose-models configure OPTIONS MODEL [-- FLAGS]`` against the runner of ``home``."""
    return run_cli("configure", *options, LOCAL_MODEL_TAG, *(("--", *flags) if flags else ()), check=check,
                   env=_environment(home))  # fmt: skip


def _ask(url: str) -> dict:
    answer = httpx.post(f"{url}/v1/chat/completions", json={"model": LOCAL_MODEL_TAG, **QUESTION}, timeout=120)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _configuration(url: str, home: Path) -> dict:
    entries = httpx.get(f"{url}/engines/_configure", params={"model": LOCAL_MODEL_TAG},
                        headers=cli_headers(home), timeout=10).json()  # fmt: skip
    return entries[0]["Config"]


def test_a_draft_of_the_same_vocabulary_drafts_and_leaves_the_greedy_answer_unchanged(draft_runner: str, draft_home: Path) -> None:
    _configure(draft_home, "--context-size", "1024")
    alone = _ask(draft_runner)
    assert "draft_n" not in (alone.get("timings") or {})
    _configure(draft_home, "--context-size", "1024", "--draft-model", LOCAL_MODEL_TAG)
    assert _configuration(draft_runner, draft_home)["speculative"] == {"draft_model": LOCAL_MODEL_TAG}
    drafted = _ask(draft_runner)
    assert drafted["choices"][0]["message"]["content"] == alone["choices"][0]["message"]["content"]
    assert drafted["timings"]["draft_n"] > 0  # llama-server's count of the tokens the draft proposed


def test_a_draft_given_as_a_runtime_flag_is_a_store_reference(draft_runner: str, draft_home: Path) -> None:
    _configure(draft_home, "--context-size", "1024", flags=("--model-draft", LOCAL_MODEL_TAG, "--spec-draft-n-max", "4"))
    assert _ask(draft_runner)["timings"]["draft_n"] > 0


def test_a_draft_of_another_vocabulary_is_refused_naming_it_and_why(draft_runner: str, draft_home: Path) -> None:
    _configure(draft_home, "--context-size", "1024")
    refused = _configure(draft_home, "--draft-model", OTHER_VOCABULARY, check=False)
    assert refused.returncode != 0
    assert OTHER_VOCABULARY in refused.stderr and "cannot draft for" in refused.stderr, refused.stderr
    assert "its tokenizer is 'llama', the model's is 'gpt2'" in refused.stderr, refused.stderr
    assert "speculative" not in _configuration(draft_runner, draft_home)  # a refused configure changes nothing


@pytest.mark.parametrize(
    ("options", "flags", "said"),
    [
        ((), ("--model-draft", "/etc/passwd"), "not a path"),
        ((), ("--model-draft=../models/x.gguf",), "not a path"),
        ((), ("-md", "some/model.gguf"), "is not in the store"),
        (("--draft-model", "nowhere/none:latest"), (), "is not in the store"),
    ],
)
def test_anything_but_a_model_of_the_store_is_refused(
    draft_runner: str, draft_home: Path, options: tuple, flags: tuple, said: str
) -> None:
    refused = _configure(draft_home, *options, flags=flags, check=False)
    assert refused.returncode != 0
    assert said in refused.stderr, refused.stderr


def test_the_drafts_memory_counts_in_the_budget(draft_runner: str, draft_home: Path) -> None:
    _configure(draft_home, "--context-size", "2048", "--draft-model", LOCAL_MODEL_TAG)
    refused = httpx.post(f"{draft_runner}/v1/chat/completions", json={"model": LOCAL_MODEL_TAG, **QUESTION}, timeout=120)
    assert refused.status_code >= 500
    message = refused.json()["error"]["message"]
    assert "needs about" in message and "+ draft model" in message and "400.0 MiB" in message, message
    _configure(draft_home, "--context-size", "2048")
    assert _ask(draft_runner)["choices"][0]["message"]["content"]


def test_docker_model_runners_speculative_settings_are_taken(draft_runner: str, draft_home: Path) -> None:
    body = {"model": LOCAL_MODEL_TAG, "context-size": 1024,
            "speculative": {"draft_model": LOCAL_MODEL_TAG, "num_tokens": 4, "min_acceptance_rate": 0.5}}  # fmt: skip
    configured = httpx.post(f"{draft_runner}/engines/_configure", json=body, headers=cli_headers(draft_home), timeout=30)
    assert configured.status_code == 202, configured.text
    configuration = _configuration(draft_runner, draft_home)
    assert configuration["speculative"] == {"draft_model": LOCAL_MODEL_TAG}
    assert configuration["runtime-flags"] == ["--spec-draft-n-max", "4", "--spec-draft-p-min", "0.5"]
    body["speculative"] = {"draft_model": OTHER_VOCABULARY}
    refused = httpx.post(f"{draft_runner}/engines/_configure", json=body, headers=cli_headers(draft_home), timeout=30)
    assert refused.status_code == 400
    assert OTHER_VOCABULARY in refused.text and "tokenizer" in refused.text
