"""A draft model in the scheduler, on real GGUFs and the real engine catalog (no engine is started): what the
engine is given, what the budget counts, and what is refused before anything changes."""

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from compose_models.errors import UserError
from compose_models.runner.backends import llama_server
from compose_models.runner.backends.catalog import BACKEND_VARIABLE
from compose_models.runner.scheduling.scheduler import COMPLETION, EMBEDDING, Scheduler
from compose_models.runner.scheduling.settings import SchedulerSettings
from compose_models.store.gguf_metadata import read_gguf_config
from compose_models.store.memory_estimate import estimate, file_bytes
from tests.tiny_ggufs import write_other_vocabulary_llama


@dataclass
class StoreModel:
    """What the scheduler reads of a stored model."""

    id: str
    gguf_paths: list[Path]
    tags: tuple[str, ...]
    config: dict[str, Any]
    context_size: int | None = 1024
    chat_template_path: Path | None = None
    mmproj_path: Path | None = None
    layers: list[Any] = field(default_factory=list)
    blobs_directory: Path = Path("/nonexistent")


def _model(name: str, path: Path) -> StoreModel:
    return StoreModel(f"sha256:{name * 64}", [path], (f"ai/{name}",), read_gguf_config(path))


@pytest.fixture(scope="module")
def store(smollm2_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, StoreModel]:
    """SmolLM2 as ``ai/a``, and a llama of another vocabulary as ``ai/b`` (read once: SmolLM2's header takes seconds)."""
    other = write_other_vocabulary_llama(tmp_path_factory.mktemp("draft") / "b.gguf")
    return {"ai/a": _model("a", smollm2_gguf), "ai/b": _model("b", other)}


def _scheduler(store: dict[str, StoreModel], tmp_path: Path) -> Scheduler:
    settings = SchedulerSettings(memory_budget=2**40, max_loaded_models=4, keep_alive=300.0)
    return Scheduler(store.get, tmp_path, settings)


def test_llama_server_gets_the_stores_file_and_is_told_to_draft_with_it(store, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(BACKEND_VARIABLE, llama_server.NAME)
    runner = _scheduler(store, tmp_path)
    asyncio.run(runner.configure("ai/a", None, ["--spec-draft-n-max", "4"], draft_model="ai/a"))
    plan = runner._plan(store["ai/a"], COMPLETION)
    assert plan.spec.draft_model_path == store["ai/a"].gguf_paths[0]
    binary = llama_server.find_binary()
    assert binary is not None, "llama-server is installed here (scripts/setup.sh)"
    argv = llama_server.LlamaServerEngine(plan.spec, tmp_path / "log", binary).command()
    drafted = argv.index("--model-draft")
    assert argv[drafted + 1 : drafted + 4] == [str(store["ai/a"].gguf_paths[0]), "--spec-type", "draft-simple"]
    assert argv[-2:] == ["--spec-draft-n-max", "4"]
    alone = estimate(file_bytes(store["ai/a"].gguf_paths), store["ai/a"].config["gguf"], 1024)
    assert plan.memory.draft == alone and plan.memory.total == 2 * alone.total
    assert "+ draft model" in plan.memory.describe()
    assert runner._plan(store["ai/a"], EMBEDDING).spec.draft_model_path is None  # drafts are for generation


def test_a_draft_of_another_vocabulary_is_refused_and_nothing_changes(store, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(BACKEND_VARIABLE, llama_server.NAME)
    runner = _scheduler(store, tmp_path)
    with pytest.raises(UserError, match="draft model 'ai/b' cannot draft for 'ai/a': its tokenizer is 'llama'"):
        asyncio.run(runner.configure("ai/a", 512, [], draft_model="ai/b"))
    assert runner.configuration(store["ai/a"]).context_size is None


def test_llama_cpp_pythons_engine_refuses_a_draft(store, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(BACKEND_VARIABLE, "llama-cpp-python")
    runner = _scheduler(store, tmp_path)
    with pytest.raises(UserError, match="only llama-server decodes with a draft model, and 'ai/a' runs on llama-cpp-python"):
        asyncio.run(runner.configure("ai/a", None, ["--model-draft", "ai/a"]))
