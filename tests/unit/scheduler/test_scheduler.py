"""The scheduler's decisions with stand-in engines: lazy and single loads, keep-alive, budget, eviction, restarts."""

import asyncio
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from compose_models.errors import UserError
from compose_models.runner.api.dmr.wire import loaded_engine_json
from compose_models.runner.backends import catalog
from compose_models.runner.backends.engine import EngineSpec
from compose_models.runner.errors import EngineCrashLoop, EngineError
from compose_models.runner.scheduling.placement import InsufficientMemory
from compose_models.runner.scheduling.scheduler import CRASH_LIMIT, CRASH_WINDOW, EMBEDDING, Scheduler
from compose_models.runner.scheduling.settings import SchedulerSettings

MIB = 1024**2
COMPUTE_ALLOWANCE = 64 * MIB  # store/memory_estimate.py's fixed part, for weights this small


class FakeEngine:
    """A stand-in engine; ``crash()`` makes it die on its own, as a real engine killed by a signal."""

    crash_while_loading = False  # set on the class: every engine started from then on dies while loading

    def __init__(self, spec: EngineSpec, log_path: Path, started: list["FakeEngine"]) -> None:
        self.spec = spec
        self.running = False
        self.report: str | None = None
        started.append(self)

    def crash(self) -> None:
        self.running, self.report = False, f"engine {self.spec.alias} crashed: killed by SIGSEGV"

    @property
    def base_url(self) -> str:
        return "http://fake"

    async def start(self, timeout: float) -> None:
        await asyncio.sleep(0.05)
        if self.crash_while_loading:
            self.crash()
            raise EngineError(self.report)
        self.running = True

    async def stop(self) -> None:
        self.running, self.report = False, None

    async def crashed(self, within: float = 0.0) -> str | None:
        return self.report

    def is_running(self) -> bool:
        return self.running

    def log_tail(self) -> str:
        return ""


@dataclass
class FakeModel:
    id: str
    gguf_paths: list[Path]
    tags: tuple[str, ...] = ()
    context_size: int | None = None
    config: dict[str, Any] = field(
        default_factory=lambda: {"format": "gguf", "gguf": {"general.architecture": "x", "x.context_length": "8192"}}
    )
    chat_template_path: Path | None = None
    mmproj_path: Path | None = None
    layers: list[Any] = field(default_factory=list)
    blobs_directory: Path = Path("/nonexistent")


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[FakeEngine]:
    engines: list[FakeEngine] = []
    monkeypatch.setattr(catalog, "create_engine", lambda spec, log_path: FakeEngine(spec, log_path, engines))
    monkeypatch.setattr(catalog, "llama_backend", lambda: "llama-cpp-python")
    return engines


@pytest.fixture
def models(tmp_path: Path) -> dict[str, FakeModel]:
    """Models a, b, c of 95 MiB weights: with the compute allowance, just under 100 MiB + 64 MiB each (no KV cache)."""
    result = {}
    for name in "abc":
        weights = tmp_path / f"{name}.gguf"
        with weights.open("wb") as file:
            file.truncate(95 * MIB)
        result[name] = FakeModel(id=f"sha256:{name * 64}", gguf_paths=[weights], tags=(f"ai/{name}",))
    return result


def scheduler(models: dict[str, FakeModel], tmp_path: Path, models_that_fit: float = 3, **settings: Any) -> Scheduler:
    one_model = 100 * MIB + COMPUTE_ALLOWANCE
    values = {"memory_budget": int(one_model * models_that_fit), "max_loaded_models": 8, "keep_alive": 300.0}
    values.update(settings)
    return Scheduler(lambda reference: models.get(reference.removeprefix("ai/")), tmp_path, SchedulerSettings(**values))


def scenario(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run an async test on its own event loop, with a time limit."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(asyncio.wait_for(test(*args, **kwargs), 20))

    return run


async def use_each(runner: Scheduler, names: str) -> None:
    """One request after the other, to the models named by letter."""
    for name in names:
        async with runner.use(f"ai/{name}"):
            pass


def engines_ps(runner: Scheduler) -> list[dict[str, Any]]:
    """What ``GET /engines/ps`` answers."""
    return [loaded_engine_json(engine) for engine in runner.running()]


def loaded(runner: Scheduler) -> list[str]:
    return sorted(str(entry["model_name"]) for entry in engines_ps(runner))


@scenario
async def test_nothing_loads_before_a_request_and_concurrent_requests_share_one_load(started, models, tmp_path) -> None:
    runner = scheduler(models, tmp_path)
    assert engines_ps(runner) == [] and started == []

    async def request() -> str:
        async with runner.use("ai/a") as (engine, _):
            await asyncio.sleep(0.05)
            return engine.base_url

    assert await asyncio.gather(*(request() for _ in range(5))) == ["http://fake"] * 5
    assert len(started) == 1
    await runner.shutdown()


@scenario
async def test_each_mode_has_its_own_engine(started, models, tmp_path) -> None:
    runner = scheduler(models, tmp_path)
    async with runner.use("ai/a"):
        pass
    async with runner.use("ai/a", EMBEDDING) as (engine, _):
        assert engine.spec.embedding
    assert sorted(entry["mode"] for entry in engines_ps(runner)) == ["completion", "embedding"]
    await runner.shutdown()


@scenario
async def test_idle_engines_stop_after_their_keep_alive(started, models, tmp_path) -> None:
    runner = scheduler(models, tmp_path, keep_alive=0.3)
    runner.set_keep_alive("ai/b", 0)
    await runner.configure("ai/c", None, [], keep_alive=-1)
    await use_each(runner, "abc")
    await asyncio.sleep(0.1)
    assert loaded(runner) == ["ai/a", "ai/c"]  # b: keep-alive 0
    await asyncio.sleep(0.4)
    assert loaded(runner) == ["ai/c"]  # c: never
    assert engines_ps(runner)[0]["keep_alive"] == "-1"
    await runner.shutdown()


@scenario
async def test_least_recently_used_idle_model_is_evicted_to_fit_the_budget(started, models, tmp_path) -> None:
    runner = scheduler(models, tmp_path, models_that_fit=2.5)
    await use_each(runner, "abac")
    assert loaded(runner) == ["ai/a", "ai/c"]
    await runner.shutdown()


@scenario
async def test_the_maximum_number_of_loaded_models_evicts_too(started, models, tmp_path) -> None:
    runner = scheduler(models, tmp_path, max_loaded_models=1)
    await use_each(runner, "ab")
    assert loaded(runner) == ["ai/b"]
    await runner.shutdown()


@scenario
async def test_a_model_in_use_is_never_evicted_a_load_waits_for_it(started, models, tmp_path) -> None:
    runner = scheduler(models, tmp_path, models_that_fit=1.5)
    order = []
    async with runner.use("ai/a"):
        waiting = asyncio.create_task(_use_and_note(runner, "ai/b", order))
        await asyncio.sleep(0.2)
        assert order == [] and loaded(runner) == ["ai/a"]
        order.append("a released")
    await waiting
    assert order == ["a released", "ai/b"]
    assert loaded(runner) == ["ai/b"]
    await runner.shutdown()


async def _use_and_note(runner: Scheduler, reference: str, order: list[str]) -> None:
    async with runner.use(reference):
        order.append(reference)


@scenario
async def test_a_load_that_waits_too_long_on_busy_models_is_refused_naming_them(started, models, tmp_path) -> None:
    runner = scheduler(models, tmp_path, models_that_fit=1.5, load_wait=0.2)
    async with runner.use("ai/a"):
        with pytest.raises(InsufficientMemory, match="ai/a"):
            async with runner.use("ai/b"):
                pass
    await runner.shutdown()


@scenario
async def test_a_model_larger_than_the_budget_is_refused_at_once(started, models, tmp_path) -> None:
    runner = scheduler(models, tmp_path, models_that_fit=0.5)
    with pytest.raises(InsufficientMemory, match=r"needs about .*weights 95\.0 MiB"):
        async with runner.use("ai/a"):
            pass
    assert started == [] and engines_ps(runner) == []


@scenario
async def test_a_dead_engine_is_started_again_by_the_next_request(started, models, tmp_path) -> None:
    runner = scheduler(models, tmp_path)
    async with runner.use("ai/a") as (engine, _):
        engine.running = False  # it crashed mid-request
    async with runner.use("ai/a") as (engine, _):
        assert engine.is_running()
    assert len(started) == 2
    await runner.shutdown()


@scenario
async def test_an_engine_that_keeps_crashing_is_not_started_again_until_reconfigured(started, models, tmp_path) -> None:
    runner = scheduler(models, tmp_path)
    for _ in range(CRASH_LIMIT):
        async with runner.use("ai/a") as (engine, _):
            engine.crash()  # while answering
    for _ in range(2):
        with pytest.raises(EngineCrashLoop, match=rf"crashed {CRASH_LIMIT} times within {CRASH_WINDOW:.0f}s .* killed by SIGSEGV") as raised:
            async with runner.use("ai/a"):
                pass
    assert "compose-models configure ai/a" in str(raised.value)
    assert len(started) == CRASH_LIMIT  # no start for the refused requests
    async with runner.use("ai/b"):  # other models are not affected
        pass
    await runner.configure("ai/a", None, [])
    async with runner.use("ai/a") as (engine, _):
        assert engine.is_running()
    assert len(started) == CRASH_LIMIT + 2
    await runner.shutdown()


@scenario
async def test_crashes_while_loading_count_and_the_third_says_it_is_the_last(started, models, tmp_path, monkeypatch) -> None:
    runner = scheduler(models, tmp_path)
    monkeypatch.setattr(FakeEngine, "crash_while_loading", True)
    for attempt in range(CRASH_LIMIT):
        with pytest.raises(EngineError) as raised:
            async with runner.use("ai/a"):
                pass
        assert isinstance(raised.value, EngineCrashLoop) == (attempt == CRASH_LIMIT - 1), raised.value
    with pytest.raises(EngineCrashLoop):
        async with runner.use("ai/a"):
            pass
    assert len(started) == CRASH_LIMIT
    await runner.shutdown()


@scenario
async def test_crashes_further_apart_than_the_window_never_stop_restarts(started, models, tmp_path, monkeypatch) -> None:
    runner = scheduler(models, tmp_path)
    window = 0.2
    monkeypatch.setattr("compose_models.runner.scheduling.scheduler.CRASH_WINDOW", window)
    for _ in range(2 * CRASH_LIMIT):
        async with runner.use("ai/a") as (engine, _):
            engine.crash()
        await asyncio.sleep(window * 0.6)  # with the start, two crashes fit in a window, never three
    async with runner.use("ai/a") as (engine, _):
        assert engine.is_running()
    await runner.shutdown()


@scenario
async def test_configure_restarts_idle_engines_drains_busy_ones_and_gives_preset_defaults(started, models, tmp_path) -> None:
    runner = scheduler(models, tmp_path)
    async with runner.use("ai/a") as (old, defaults):
        assert old.spec.context_size == 4096 and defaults == {}
        await runner.configure("ai/a", 1024, [])  # accepted while the engine serves
        later = asyncio.create_task(_context_size_served(runner, "ai/a"))
        await asyncio.sleep(0.2)
        assert not later.done() and old.is_running() and len(started) == 1  # it waits; the old one serves on
    assert await later == 1024
    assert not old.is_running() and len(started) == 2
    await runner.configure("ai/a", 2048, ["--temp", "0.9"], preset="code")  # idle: restarted at once
    async with runner.use("ai/a") as (engine, defaults):
        assert engine.spec.context_size == 2048
        assert defaults == {"temperature": 0.9, "top_p": 0.95, "repeat_penalty": 1.0}
    assert len(started) == 3
    await runner.shutdown()


async def _context_size_served(runner: Scheduler, reference: str) -> int:
    async with runner.use(reference) as (engine, _):
        return engine.spec.context_size


@scenario
async def test_a_drained_engine_stops_without_waiting_for_a_request(started, models, tmp_path) -> None:
    runner = scheduler(models, tmp_path)
    async with runner.use("ai/a") as (old, _):
        await runner.configure("ai/a", 1024, [])
    await asyncio.sleep(0.1)
    assert not old.is_running() and loaded(runner) == []
    await runner.shutdown()


@scenario
async def test_a_refused_configure_changes_nothing(started, models, tmp_path) -> None:
    runner = scheduler(models, tmp_path)
    await runner.configure("ai/a", 2048, ["--temp", "0.5"], keep_alive=600)
    async with runner.use("ai/a") as (engine, _):
        refusals = [
            ((None, ["--temp", "nan"]), "'--temp' has an invalid value 'nan': expected a finite number"),
            ((None, ["--parallel", "1000"]), "'--parallel' has an invalid value '1000': expected an integer from 1 to 64"),
            ((16384, []), "context-size: 16384 is out of range: use between 64 and 8192"),
            ((None, ["--ctx-size", "16384"]), "'--ctx-size': 16384 is out of range"),
        ]  # fmt: skip
        for (context_size, flags), message in refusals:
            with pytest.raises(UserError, match=message):
                await runner.configure("ai/a", context_size, flags)
        assert engine.is_running()
    configuration = runner.configuration(models["a"])
    assert (configuration.context_size, configuration.runtime_flags, configuration.keep_alive) == (2048, ["--temp", "0.5"], 600)
    async with runner.use("ai/a") as (same, defaults):
        assert same is engine and defaults == {"temperature": 0.5}
    assert len(started) == 1
    await runner.shutdown()


@scenario
async def test_running_is_in_docker_model_runners_shape(started, models, tmp_path) -> None:
    runner = scheduler(models, tmp_path)
    await runner.configure("ai/a", None, [], keep_alive=600)
    async with runner.use("ai/a"):
        [entry] = engines_ps(runner)
        assert entry == {"backend_name": "llama.cpp", "model_name": "ai/a", "mode": "completion",
                         "last_used": "0001-01-01T00:00:00Z", "in_use": True, "keep_alive": "10m0s",
                         # ours, beside DMR's fields: each setting that is not a default, and who set it
                         "settings": {"keep_alive": {"value": "10m0s", "from": "configure"}}}  # fmt: skip
    [entry] = engines_ps(runner)
    assert "in_use" not in entry and entry["last_used"].endswith("Z")
    await runner.shutdown()


@scenario
async def test_safetensors_models_need_mlx(started, models, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("compose_models.runner.backends.mlx.platform_supported", lambda: False)
    models["a"].config = {"format": "safetensors"}
    runner = scheduler(models, tmp_path)
    with pytest.raises(EngineError, match="not available on this platform"):
        async with runner.use("ai/a"):
            pass
