"""``/rerank`` and ``/score`` on a real runner and a real llama-server, with a reranker GGUF the test writes
(a random cross-encoder: its scores mean nothing, so the shapes, order, ``top_n`` and determinism are
asserted, not relevance)."""

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import LOCAL_MODEL_TAG, cli_headers, run_cli
from tests.integration.api.conftest import serving_runner
from tests.tiny_ggufs import write_tiny_reranker

RERANKER = "local/tiny-reranker:latest"
DOCUMENTS = ["a cat sat on the mat", "stock prices fell", "the kitten sleeps", "rain is expected", "dogs bark"]
PATHS = ("/rerank", "/v1/rerank", "/engines/v1/rerank", "/engines/rerank", "/engines/llama.cpp/rerank",
         "/engines/llama.cpp/v1/rerank", "/score", "/engines/score")  # fmt: skip


@pytest.fixture(scope="module")
def rerank_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("rerank-runner")
    reranker = write_tiny_reranker(home / "tiny-reranker.gguf")
    run_cli("package", "--gguf", str(reranker), RERANKER, env={**os.environ, "COMPOSE_MODELS_HOME": str(home)})
    return home


@pytest.fixture(scope="module")
def rerank_runner(rerank_home: Path, smollm2_gguf: Path) -> Iterator[str]:
    with serving_runner(rerank_home, smollm2_gguf) as url:
        yield url


def _rerank(url: str, path: str = "/rerank", **fields: object) -> httpx.Response:
    body = {"model": RERANKER, "query": "a small cat", "documents": DOCUMENTS, **fields}
    return httpx.post(f"{url}{path}", json=body, timeout=120)


def test_every_document_is_scored_once_most_relevant_first(rerank_runner: str) -> None:
    answer = _rerank(rerank_runner)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model"] == RERANKER
    results = body["results"]
    assert sorted(result["index"] for result in results) == list(range(len(DOCUMENTS)))
    scores = [result["relevance_score"] for result in results]
    assert scores == sorted(scores, reverse=True)
    assert len(set(scores)) > 1  # the documents are told apart
    assert all("document" not in result for result in results)
    assert body["usage"]["prompt_tokens"] > 0


def test_the_same_request_gets_the_same_scores_on_every_route(rerank_runner: str) -> None:
    first = _rerank(rerank_runner).json()["results"]
    for path in PATHS:
        answer = _rerank(rerank_runner, path)
        assert answer.status_code == 200, (path, answer.text)
        _same(answer.json()["results"], first)


def _same(results: list[dict], expected: list[dict]) -> None:
    assert [result["index"] for result in results] == [result["index"] for result in expected]
    assert [result["relevance_score"] for result in results] == pytest.approx(
        [result["relevance_score"] for result in expected], abs=1e-5
    )


def test_top_n_keeps_the_best_and_return_documents_gives_their_text(rerank_runner: str) -> None:
    everything = _rerank(rerank_runner).json()["results"]
    answer = _rerank(rerank_runner, top_n=2, return_documents=True)
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [result["index"] for result in results] == [result["index"] for result in everything[:2]]
    assert [result["document"]["text"] for result in results] == [DOCUMENTS[result["index"]] for result in results]
    larger = _rerank(rerank_runner, top_n=50).json()["results"]
    assert len(larger) == len(DOCUMENTS)


def test_a_model_that_is_no_reranker_is_refused_in_openais_shape(rerank_runner: str) -> None:
    answer = _rerank(rerank_runner, model=LOCAL_MODEL_TAG)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["param"] == "model" and error["code"] == "model_not_reranker"
    assert "is not a reranker" in error["message"] and "--reranking" in error["message"]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"documents": []}, "documents"),
        ({"documents": ["fine", 3]}, "documents"),
        ({"documents": "one string"}, "documents"),
        ({"query": ""}, "query"),
        ({"top_n": 0}, "top_n"),
        ({"documents": ["d"] * 1001}, "documents"),
    ],
)
def test_bad_fields_are_refused_with_their_name(rerank_runner: str, fields: dict, named: str) -> None:
    answer = _rerank(rerank_runner, **fields)
    assert answer.status_code == 400, answer.text
    assert named in answer.json()["error"]["message"]


def test_a_document_longer_than_one_pass_is_refused_naming_the_documents(rerank_runner: str) -> None:
    answer = _rerank(rerank_runner, documents=["short", "a b " * 400])
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["param"] == "documents" and "--ubatch-size" in error["message"]
    assert _rerank(rerank_runner, documents=["", "ÄÖ 日本", "fine"]).status_code == 200  # any text is a document


def test_an_unknown_backend_is_not_found(rerank_runner: str) -> None:
    answer = _rerank(rerank_runner, "/engines/vllm/rerank")
    assert answer.status_code == 404
    assert "vllm" in answer.json()["error"]["message"]


def test_the_engine_runs_in_reranking_mode(rerank_runner: str, rerank_home: Path) -> None:
    assert _rerank(rerank_runner).status_code == 200
    engines = httpx.get(f"{rerank_runner}/engines/ps", headers=cli_headers(rerank_home), timeout=10).json()
    assert {"model_name": RERANKER, "mode": "reranking"}.items() <= next(
        engine for engine in engines if engine["model_name"] == RERANKER
    ).items()
