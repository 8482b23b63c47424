"""Pinned models and saved configurations, with stand-in engines (tests/e2e/test_warm_models.py runs the
real runner, model and Compose projects)."""

import asyncio
import json

import pytest

from compose_models.runner.scheduling import scheduler as scheduler_module
from compose_models.runner.scheduling.scheduler import Scheduler
from compose_models.runner.scheduling.settings import SchedulerSettings
from tests.unit.scheduler import test_scheduler as base
from tests.unit.scheduler.test_scheduler import (
    engines_ps,
    loaded,
    scenario,
    scheduler,
    use_each,
)

# The stand-in engines and models of the scheduler's tests.
started, models = base.started, base.models


def saving_scheduler(models, tmp_path) -> Scheduler:
    settings = SchedulerSettings(memory_budget=1 << 40, max_loaded_models=8, keep_alive=300.0)

    def lookup(reference: str) -> base.FakeModel | None:
        by_id = (model for model in models.values() if model.id == reference)
        return models.get(reference.removeprefix("ai/")) or next(by_id, None)

    return Scheduler(lookup, tmp_path, settings, state_dir=tmp_path / "state")


async def until_unloaded(runner: Scheduler, timeout: float = 5.0) -> float:
    """Seconds until no engine is loaded (the reaper's event, awaited by polling within a bound)."""
    loop = asyncio.get_running_loop()
    started_at = loop.time()
    while loaded(runner):
        assert loop.time() - started_at < timeout, loaded(runner)
        await asyncio.sleep(0.02)
    return loop.time() - started_at


@scenario
async def test_a_pinned_model_outlives_its_keep_alive_until_its_project_is_released(started, models, tmp_path) -> None:
    runner = scheduler(models, tmp_path, keep_alive=0.2)
    await runner.configure("ai/a", None, [], keep_alive=1.0)
    runner.pin("ai/a", "shop")
    await use_each(runner, "ab")
    await asyncio.sleep(1.3)
    assert loaded(runner) == ["ai/a"]  # b went after its keep-alive; a is pinned past its own
    assert engines_ps(runner)[0]["pinned_by"] == ["shop"]
    assert runner.release("shop") == [models["a"].id]
    assert await until_unloaded(runner) >= 0.9  # its keep-alive, counted from the release
    await runner.shutdown()


@scenario
async def test_a_project_no_longer_up_releases_its_models(started, models, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COMPOSE_MODELS_PROJECT_CHECK_INTERVAL", "0.05")
    up = {"shop"}
    monkeypatch.setattr(scheduler_module, "running_projects", lambda: set(up))  # the engine's answer
    runner = scheduler(models, tmp_path, keep_alive=0.1)
    runner.pin("ai/a", "shop")
    await use_each(runner, "a")
    await asyncio.sleep(0.3)
    assert loaded(runner) == ["ai/a"]
    up.clear()  # docker compose down, which does not tell the runner
    await until_unloaded(runner)
    assert runner.pinned_by(models["a"]) == []
    await runner.shutdown()


@scenario
async def test_configurations_and_pins_survive_a_restart(started, models, tmp_path) -> None:
    runner = saving_scheduler(models, tmp_path)
    await runner.configure("ai/a", 2048, ["--temp", "0.5"], keep_alive=60, source="compose project shop")
    await runner.configure("ai/b", None, ["--top-k", "5"])
    runner.pin("ai/a", "shop")
    await runner.shutdown()
    # The user's own, and no temporary file is left beside them.
    saved = sorted((path.name, path.stat().st_mode & 0o777) for path in (tmp_path / "state").iterdir())
    assert saved == [("configurations.json", 0o600), ("pins.json", 0o600)]
    again = saving_scheduler(models, tmp_path)
    a = again.configuration(models["a"])
    assert (a.context_size, a.runtime_flags, a.keep_alive) == (2048, ["--temp", "0.5"], 60)
    assert a.source_of("context_size") == "compose project shop" and a.source_of("keep_alive") == "compose project shop"
    b = again.configuration(models["b"])
    assert b.runtime_flags == ["--top-k", "5"] and b.source_of("runtime_flags") == "configure"
    assert b.source_of("context_size") == "default"
    assert again.pinned_by(models["a"]) == ["shop"]
    assert await again.reset("ai/a")
    assert saving_scheduler(models, tmp_path).configuration(models["a"]).runtime_flags == []  # forgotten for good


@scenario
async def test_a_corrupt_file_is_kept_aside_and_the_runner_starts_with_defaults(started, models, tmp_path, capsys) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "configurations.json").write_text('{"models": {"sha256:')
    runner = saving_scheduler(models, tmp_path)
    assert runner.configuration(models["a"]).runtime_flags == []
    assert (state / "configurations.json.bak").read_text() == '{"models": {"sha256:'
    assert "configurations.json is not valid JSON" in capsys.readouterr().err
    await runner.configure("ai/a", None, ["--temp", "0"])
    assert json.loads((state / "configurations.json").read_text())["models"][models["a"].id]["runtime_flags"] == ["--temp", "0"]


@scenario
async def test_restored_flags_pass_the_allow_list_again(started, models, tmp_path, capsys) -> None:
    state = tmp_path / "state"
    state.mkdir()
    entries = {models["a"].id: {"runtime_flags": ["--model", "/etc/passwd"]}, models["b"].id: {"runtime_flags": ["--temp", "0"]}}
    (state / "configurations.json").write_text(json.dumps({"version": 1, "models": entries}))
    runner = saving_scheduler(models, tmp_path)
    assert runner.configuration(models["a"]).runtime_flags == []
    assert runner.configuration(models["b"]).runtime_flags == ["--temp", "0"]
    assert f"the saved configuration of {models['a'].id} is not restored" in capsys.readouterr().err


@pytest.mark.parametrize("content", ["[1, 2]", "x" * (1 << 21)])
def test_a_document_of_the_wrong_shape_or_size_is_refused(tmp_path, content) -> None:
    from compose_models.runner.scheduling.state_file import read_document

    path = tmp_path / "pins.json"
    path.write_text(content)
    assert read_document(path) == {}
    assert path.with_name("pins.json.bak").exists() and not path.exists()
