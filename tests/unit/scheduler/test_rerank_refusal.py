"""Which models the scheduler serves for reranking, read from real GGUFs and their configuration, on the real
engine catalog (no engine is started), and the arguments a reranking engine gets."""

import asyncio
from pathlib import Path

import pytest

from compose_models.runner.backends import llama_server
from compose_models.runner.backends.catalog import BACKEND_VARIABLE
from compose_models.runner.backends.smoke_model import write_smoke_model
from compose_models.runner.scheduling.scheduler import RERANKING, Scheduler
from compose_models.runner.scheduling.settings import SchedulerSettings
from tests.tiny_ggufs import write_tiny_reranker
from tests.unit.scheduler.test_draft_model import StoreModel, _model


@pytest.fixture
def store(tmp_path: Path) -> dict[str, StoreModel]:
    return {"ai/r": _model("r", write_tiny_reranker(tmp_path / "r.gguf")),
            "ai/c": _model("c", write_smoke_model(tmp_path / "c.gguf"))}  # fmt: skip


def _scheduler(store: dict[str, StoreModel], tmp_path: Path, *flags: str, model: str = "ai/c") -> Scheduler:
    runner = Scheduler(store.get, tmp_path, SchedulerSettings(memory_budget=2**40, max_loaded_models=4, keep_alive=300.0))
    if flags:
        asyncio.run(runner.configure(model, None, list(flags)))
    return runner


def test_a_gguf_that_pools_by_rank_reranks_with_the_reranking_flags(store, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(BACKEND_VARIABLE, llama_server.NAME)
    runner = _scheduler(store, tmp_path)
    assert runner.rerank_refusal(store["ai/r"], "ai/r") is None
    spec = runner._plan(store["ai/r"], RERANKING).spec
    binary = llama_server.find_binary()
    assert binary is not None, "llama-server is installed here (scripts/setup.sh)"
    argv = llama_server.LlamaServerEngine(spec, tmp_path / "log", binary).command()
    assert "--embeddings" in argv and "--reranking" in argv and argv[-2:] == ["--pooling", "rank"]


def test_a_model_that_pools_otherwise_is_refused_saying_how_to_declare_one(store, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(BACKEND_VARIABLE, llama_server.NAME)
    refusal = _scheduler(store, tmp_path).rerank_refusal(store["ai/c"], "ai/c")
    assert refusal == (
        "model 'ai/c' is not a reranker: its GGUF pools by 'none', and a reranker's pools by 'rank' (a classifier "
        "head); if it is one, configure it with `compose-models configure ai/c -- --reranking`"
    )


@pytest.mark.parametrize(("flags", "refused"), [(("--reranking",), False), (("--pooling", "rank"), False),
                                                (("--pooling", "mean", "--reranking"), True)])  # fmt: skip
def test_the_configuration_can_declare_a_reranker(store, tmp_path, monkeypatch, flags, refused) -> None:
    monkeypatch.setenv(BACKEND_VARIABLE, llama_server.NAME)
    refusal = _scheduler(store, tmp_path, *flags).rerank_refusal(store["ai/c"], "ai/c")
    assert (refusal is not None) == refused
    if refused:
        assert "'--pooling mean'; reranking needs '--pooling rank'" in refusal


def test_llama_cpp_pythons_engine_cannot_rerank(store, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(BACKEND_VARIABLE, "llama-cpp-python")
    refusal = _scheduler(store, tmp_path).rerank_refusal(store["ai/r"], "ai/r")
    assert refusal is not None and "cannot be reranked by the llama-cpp-python engine: only llama-server" in refusal
