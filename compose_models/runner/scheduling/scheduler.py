"""Which engine serves which model: lazy start, keep-alive, memory budget, eviction, restart after a crash.

One engine per (model ID, mode), started by the first request that needs it; concurrent requests
wait on that one start. Before a start the model's memory is estimated and room is made within the
budget and the maximum number of loaded models by stopping least-recently-used idle engines; a
model that can never fit is refused with the numbers, and one that waits on busy models is refused
after ``load_wait`` seconds. Idle engines stop after their keep-alive. An engine that died is
started again by the next request, unless it crashed ``CRASH_LIMIT`` times within ``CRASH_WINDOW``
seconds: then requests get its crash report at once, without a start, until the model is
reconfigured or the runner restarts.

A configure is checked whole before anything is stored. An engine started with another configuration
is replaced, never under a request: an idle one stops at once; a busy one drains - its requests finish
on it while new ones wait for the engine of the new configuration, started once the last has ended.

Context size precedence: ``configure`` > runtime flag ``--ctx-size`` > the artifact's ``context_size`` > 4096.

Configurations are saved in the runner's state folder and restored (and checked again) at start. A model
pinned by a Compose project that is up (``pins.py``) is not stopped for idleness; memory pressure may
still evict it, after every unpinned idle model.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, cast

from compose_models.errors import UserError
from compose_models.log import say
from compose_models.runner.backends import batched, catalog, llama_server, mlx
from compose_models.runner.backends.engine import Engine, EngineSpec
from compose_models.runner.configuration.presets import with_preset
from compose_models.runner.configuration.runtime_flags import parse_runtime_flags
from compose_models.runner.errors import EngineCrashLoop, EngineError, InvalidConfiguration, ModelNotFound
from compose_models.runner.scheduling import pins
from compose_models.runner.scheduling.compose_projects import running_projects
from compose_models.runner.scheduling.context_size import check_context_size, trained_context
from compose_models.runner.scheduling.placement import InsufficientMemory, Resident, explain_refusal, plan_placement
from compose_models.runner.scheduling.saved_configurations import load_configurations, save_configurations
from compose_models.runner.scheduling.settings import SchedulerSettings
from compose_models.store.gguf_metadata import read_gguf_config
from compose_models.store.gguf_vocabulary import mismatch, read_vocabulary
from compose_models.store.memory_estimate import DEFAULT_CONTEXT_SIZE, MemoryEstimate, estimate, file_bytes

COMPLETION = "completion"
EMBEDDING = "embedding"
RERANKING = "reranking"
CRASH_LIMIT = 3
CRASH_WINDOW = 60.0  # seconds


class LocalModel(Protocol):
    # read-only members: the store's StoredModel is a frozen dataclass with computed properties
    @property
    def id(self) -> str: ...
    @property
    def tags(self) -> Sequence[str]: ...
    @property
    def context_size(self) -> int | None: ...
    @property
    def config(self) -> dict[str, Any]: ...
    @property
    def gguf_paths(self) -> list[Path]: ...
    @property
    def chat_template_path(self) -> Path | None: ...
    @property
    def mmproj_path(self) -> Path | None: ...
    @property
    def layers(self) -> list[Any]: ...
    @property
    def blobs_directory(self) -> Path: ...


ModelLookup = Callable[[str], LocalModel | None]


@dataclass
class ModelConfiguration:
    context_size: int | None = None
    runtime_flags: list[str] = field(default_factory=list)
    keep_alive: float | None = None  # seconds; None = the runner's default, negative = never unload
    draft_model: str | None = None  # a store reference: the model that drafts tokens for speculative decoding
    sources: dict[str, str] = field(default_factory=dict)  # setting -> who set it ("configure", "compose project P")

    def source_of(self, setting: str) -> str:
        """Where ``setting`` (context_size, runtime_flags, keep_alive, ...) came from: "default" when unset."""
        value = getattr(self, setting, None)
        return self.sources.get(setting, "configure") if value not in (None, [], "") else "default"


@dataclass(frozen=True)
class LoadedEngine:
    """An engine that holds memory, loaded or loading, as each API shows it in its own shape."""

    model: LocalModel
    reference: str  # the name the first request for the model used
    mode: str
    backend_name: str  # the engine family: llama.cpp or mlx
    in_use: bool
    loading: bool
    last_used: float  # Unix seconds at the end of its last request
    keep_alive: float | None  # the model's configured keep-alive, seconds; None = the runner's default
    unloads_after: float  # the keep-alive in force: seconds idle before it stops; negative = never
    pinned_by: tuple[str, ...] = ()  # Compose projects that are up and declared it: not unloaded for idleness
    configuration: ModelConfiguration = field(default_factory=ModelConfiguration)
    engine: Engine | None = None  # the process serving it, for management callers (``/engines/ps?engine``)


@dataclass
class _Slot:
    model: LocalModel
    reference: str
    mode: str
    engine: Engine | None = None
    backend: str = ""  # of the engine running or loading
    memory: MemoryEstimate | None = None
    in_flight: int = 0  # requests that hold the engine or wait for it
    serving: int = 0  # requests that hold the engine
    released: asyncio.Event = field(default_factory=asyncio.Event)  # set when ``serving`` falls to 0
    loading: bool = False
    last_used: float = field(default_factory=time.time)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    crash_times: list[float] = field(default_factory=list)  # monotonic, within the last CRASH_WINDOW
    crash_loop: str | None = None  # the report requests get instead of a start, once it keeps crashing

    @property
    def holds_memory(self) -> bool:
        return self.loading or (self.engine is not None and self.engine.is_running())

    @property
    def is_idle(self) -> bool:
        return self.in_flight == 0 and not self.loading


@dataclass(frozen=True)
class _Plan:
    spec: EngineSpec
    memory: MemoryEstimate
    sampling_defaults: dict[str, object]


class Scheduler:
    def __init__(
        self, lookup: ModelLookup, log_dir: Path, settings: SchedulerSettings | None = None, state_dir: Path | None = None
    ) -> None:
        """``state_dir``: where configurations and pins are kept across restarts (None: only in memory)."""
        self._lookup = lookup
        self._log_dir = log_dir
        self.settings = settings or SchedulerSettings.from_environment()
        self._configurations_file = state_dir / "configurations.json" if state_dir else None
        self._configurations: dict[str, ModelConfiguration] = {}
        self._pins = pins.Pins(state_dir / "pins.json" if state_dir else None)
        self._project_check_interval = pins.check_interval()
        self._pin_grace = pins.grace()
        self._project_checker: asyncio.Task[None] | None = None
        self._slots: dict[tuple[str, str], _Slot] = {}  # (model id, mode)
        self._plans: dict[tuple[str, str], _Plan] = {}  # the last plan of each slot, until a configure
        self._placement_lock = asyncio.Lock()
        self._capacity_freed = asyncio.Event()
        self._reaper_wake = asyncio.Event()
        self._reaper: asyncio.Task[None] | None = None
        self._configurations = self._restored_configurations()

    def find(self, reference: str) -> LocalModel:
        model = self._lookup(reference)
        if model is None:
            raise ModelNotFound(reference)
        return model

    def has_free_slot(self, model: LocalModel, mode: str = COMPLETION) -> bool:
        """Whether a request for ``model`` in ``mode`` would be served at once rather than wait: fewer requests
        hold or wait for its engine than the engine has parallel slots (an engine not started has them all)."""
        slot = self._slots.get((model.id, mode))
        return slot is None or slot.in_flight < self._parallel_slots(model, mode)

    def _parallel_slots(self, model: LocalModel, mode: str) -> int:
        plan = self._plans.get((model.id, mode))
        if plan is not None:
            parallel = plan.spec.parallel
        else:  # not planned yet (its first request is starting it): as its configuration asks
            backend = catalog.backend_for_format(_format_of(model))
            if backend not in (llama_server.NAME, batched.NAME):
                return 1
            try:
                parallel = parse_runtime_flags(self.configuration(model).runtime_flags, backend).parallel
            except UserError:
                return 1
            parallel = parallel or (batched.default_slots() if backend == batched.NAME else None)
        return parallel or llama_server.AUTO_PARALLEL

    def configuration(self, model: LocalModel) -> ModelConfiguration:
        return self._configurations.get(model.id, ModelConfiguration())

    def _restored_configurations(self) -> dict[str, ModelConfiguration]:
        """The saved configurations whose model is still here and whose values still pass the checks."""
        if self._configurations_file is None:
            return {}
        restored = {}
        for model_id, configuration in load_configurations(self._configurations_file, ModelConfiguration).items():
            model = self._lookup(model_id)
            if model is None:
                continue  # deleted since
            try:
                if not isinstance(configuration.sources, dict) or not isinstance(configuration.runtime_flags, list):
                    raise UserError("malformed")
                self._checked_plans(model, configuration)
            except (UserError, TypeError, ValueError) as error:
                say(f"the saved configuration of {model_id} is not restored: {error}")
                continue
            restored[model_id] = configuration
        return restored

    def _save_configurations(self) -> None:
        if self._configurations_file is not None:
            save_configurations(self._configurations_file, self._configurations)

    async def configure(
        self, reference: str, context_size: int | None, runtime_flags: list[str],
        keep_alive: float | None = None, preset: str | None = None, source: str = "configure",
        draft_model: str | None = None,
    ) -> None:  # fmt: skip
        """Store a model's configuration; engines started with another one stop now if idle, else drain.

        ``source`` says who set it (``configure``, ``compose project P``), as ``ps`` shows it.
        UserError for an invalid value or an unknown preset, and then nothing has changed.
        """
        model = self.find(reference)
        configuration = ModelConfiguration(context_size, with_preset(preset, runtime_flags), keep_alive, draft_model)
        configuration.sources = {
            name: source for name in ("context_size", "runtime_flags", "keep_alive", "draft_model")
            if configuration.source_of(name) != "default"
        }  # fmt: skip
        plans = self._checked_plans(model, configuration)
        self._configurations[model.id] = configuration
        self._save_configurations()
        self._forget_plans(model.id)
        self._plans.update(plans)
        for slot in self._slots_of(model.id):
            slot.crash_times, slot.crash_loop = [], None
            if slot.is_idle and self._is_stale(slot):
                await self._stop(slot)
        self._reaper_wake.set()

    def _checked_plans(self, model: LocalModel, configuration: ModelConfiguration) -> dict[tuple[str, str], _Plan]:
        """The plans ``configuration`` gives the model's running engines, once every value of it is valid."""
        try:
            backend = catalog.backend_for_format(_format_of(model))
            options = parse_runtime_flags(configuration.runtime_flags, backend)
            trained = trained_context(self._gguf_metadata(model, backend))
            check_context_size(configuration.context_size, trained, "context-size")
            check_context_size(options.context_size, trained, "runtime flag '--ctx-size'")
            self._draft(model, backend, configuration.draft_model or options.draft_model)
            return {
                (model.id, slot.mode): self._plan(model, slot.mode, configuration)
                for slot in self._slots_of(model.id)
                if slot.engine is not None and slot.engine.is_running()
            }
        except EngineError as error:
            raise InvalidConfiguration(str(error)) from None

    def rerank_refusal(self, model: LocalModel, reference: str) -> str | None:
        """Why ``model`` cannot serve ``/rerank``, or None when it can.

        A model reranks when llama.cpp would: its GGUF pools by rank (``<arch>.pooling_type`` 4, a
        cross-encoder with a classifier head, as the converter writes for rerankers), or its configuration
        says so with ``--reranking`` (or ``--pooling rank``). Only llama-server has a rerank endpoint.
        """
        try:
            backend = catalog.backend_for_format(_format_of(model))
            options = parse_runtime_flags(self.configuration(model).runtime_flags, backend)
        except (EngineError, UserError) as error:
            return str(error)
        if backend != llama_server.NAME:
            return (
                f"model {reference!r} cannot be reranked by the {backend} engine: only llama-server has a rerank "
                "endpoint; install it with `compose-models install-runner --backend llama-server`"
            )
        pooling = llama_server.gguf_pooling(self._gguf_metadata(model, backend))
        if options.pooling not in (None, "rank"):
            return f"model {reference!r} is configured with '--pooling {options.pooling}'; reranking needs '--pooling rank'"
        if pooling == "rank" or options.reranking or options.pooling == "rank":
            return None
        return (
            f"model {reference!r} is not a reranker: its GGUF pools by {pooling!r}, and a reranker's pools by "
            f"'rank' (a classifier head); if it is one, configure it with `compose-models configure {reference} -- --reranking`"
        )

    def set_keep_alive(self, reference: str, keep_alive: float) -> None:
        """Change only the keep-alive of a model (Ollama's per-request ``keep_alive``); seconds, negative = never."""
        model = self.find(reference)
        current = self.configuration(model)
        sources = {**current.sources, "keep_alive": "a request's keep_alive"}
        self._configurations[model.id] = replace(current, keep_alive=keep_alive, sources=sources)
        self._save_configurations()
        self._reaper_wake.set()

    async def reset(self, reference: str) -> bool:
        """Forget a model's configuration (saved too); its engines restart with the defaults. Whether it had one."""
        model = self.find(reference)
        had = self._configurations.pop(model.id, None) is not None
        if had:
            self._save_configurations()
            self._forget_plans(model.id)
            for slot in self._slots_of(model.id):
                slot.crash_times, slot.crash_loop = [], None
                if slot.is_idle and slot.engine is not None:
                    await self._stop(slot)
            self._reaper_wake.set()
        return had

    def pin(self, reference: str, project: str) -> None:
        """Keep the model loaded, idle or not, while the Compose project ``project`` is up."""
        model = self.find(reference)
        self._pins.pin(project, model.id, reference)
        self._reaper_wake.set()

    def release(self, project: str) -> list[str]:
        """The project went down: its models unload after their keep-alive, counted from now. The model IDs."""
        released = self._pins.release(project)
        now = time.time()
        for model_id in released:
            for slot in self._slots_of(model_id):
                if slot.is_idle:
                    slot.last_used = now
        if released:
            say(f"Compose project {project!r} is down: released {len(released)} model(s)")
        self._reaper_wake.set()
        return released

    def pinned_by(self, model: LocalModel) -> list[str]:
        return self._pins.projects_of(model.id)

    async def preload(self, reference: str, mode: str | None = None) -> float:
        """Load the model now rather than on its first request; the seconds it took (0 when it was loaded)."""
        model = self.find(reference)
        started = time.monotonic()
        async with self.use(reference, mode or _preload_mode(model), model):
            pass
        return time.monotonic() - started

    def _forget_plans(self, model_id: str) -> None:
        for key in [key for key in self._plans if key[0] == model_id]:
            del self._plans[key]

    def _slots_of(self, model_id: str) -> list[_Slot]:
        return [slot for (slot_model_id, _), slot in self._slots.items() if slot_model_id == model_id]

    def _is_stale(self, slot: _Slot) -> bool:
        """Whether the slot's engine was started with a configuration the model no longer has."""
        plan = self._plans.get((slot.model.id, slot.mode))
        return slot.engine is not None and plan is not None and slot.engine.spec != plan.spec

    def _plan(self, model: LocalModel, mode: str, configuration: ModelConfiguration | None = None) -> _Plan:
        backend = catalog.backend_for_format(_format_of(model))
        configuration = configuration or self.configuration(model)
        try:
            options = parse_runtime_flags(configuration.runtime_flags, backend)
        except UserError as error:
            raise EngineError(str(error)) from None
        context_size = (
            configuration.context_size or options.context_size or model.context_size or DEFAULT_CONTEXT_SIZE
        )
        gguf = self._gguf_metadata(model, backend)
        arguments = options.arguments_for(backend)
        if mode == EMBEDDING and backend == llama_server.NAME and "--pooling" not in arguments:
            arguments += llama_server.pooling_arguments(gguf)
        if mode == RERANKING and "--pooling" not in arguments:
            arguments += ("--pooling", "rank")
        draft = self._draft(model, backend, configuration.draft_model or options.draft_model) if mode == COMPLETION else None
        spec = EngineSpec(
            backend=backend,
            model_path=self._model_path(model, backend),
            alias=model.tags[0] if model.tags else model.id,
            context_size=context_size,
            parallel=_parallel(backend, options.parallel, mode),
            embedding=mode in (EMBEDDING, RERANKING),
            reranking=mode == RERANKING,
            arguments=arguments,
            chat_template_path=model.chat_template_path,
            mmproj_path=model.mmproj_path,
            draft_model_path=draft.gguf_paths[0] if draft else None,
        )
        weights = self._weight_files(model, backend)
        # The batched engine gives each slot a KV cache of its own.
        cached_tokens = context_size * spec.parallel if backend == batched.NAME and spec.parallel else context_size
        memory = estimate(file_bytes(weights), gguf, cached_tokens, options.kv_cache_types)
        if draft is not None:  # llama-server gives the draft a KV cache as long as the model's
            draft_memory = estimate(file_bytes(draft.gguf_paths), self._gguf_metadata(draft, backend), context_size)
            memory = replace(memory, draft=draft_memory)
        return _Plan(spec, memory, dict(options.sampling_defaults))

    def _draft(self, model: LocalModel, backend: str, reference: str | None) -> LocalModel | None:
        """The store model ``reference`` names, once it can draft for ``model``; EngineError saying why not.

        Only a store reference is taken, and the engine gets the store's own file for it: no path from a
        request or a compose file reaches the command line.
        """
        if reference is None:
            return None
        name = model.tags[0] if model.tags else model.id
        if backend != llama_server.NAME:
            raise EngineError(
                f"draft model {reference!r} for {name!r}: only llama-server decodes with a draft model, and {name!r} "
                f"runs on {backend} here (`compose-models install-runner --backend llama-server`)"
            )
        draft = self._lookup(reference)
        if draft is None:
            raise EngineError(f"draft model {reference!r} for {name!r} is not in the store (`compose-models pull {reference}`)")
        if _format_of(draft) != "gguf" or not draft.gguf_paths or not model.gguf_paths:
            raise EngineError(f"draft model {reference!r} for {name!r}: both need GGUF weights")
        try:
            problem = mismatch(read_vocabulary(model.gguf_paths[0]), read_vocabulary(draft.gguf_paths[0]))
        except UserError as error:
            raise EngineError(f"draft model {reference!r} for {name!r}: {error}") from None
        if problem is not None:
            raise EngineError(
                f"draft model {reference!r} cannot draft for {name!r}: {problem}; a draft model needs the model's "
                "vocabulary (a smaller model of the same family)"
            )
        return draft

    def _model_path(self, model: LocalModel, backend: str) -> Path:
        if backend == mlx.NAME:
            bundle_dir = self._log_dir.parent / "bundles" / model.id.removeprefix("sha256:")
            return mlx.bundle(model.layers, model.blobs_directory, bundle_dir)
        if not model.gguf_paths:
            raise EngineError(f"model {model.id} has no GGUF weights")
        return model.gguf_paths[0]

    @staticmethod
    def _weight_files(model: LocalModel, backend: str) -> list[Path]:
        if backend == mlx.NAME:
            return [model.blobs_directory / layer.digest.removeprefix("sha256:") for layer in model.layers]
        return model.gguf_paths

    @staticmethod
    def _gguf_metadata(model: LocalModel, backend: str) -> dict[str, Any]:
        if backend == mlx.NAME or not model.gguf_paths:
            return {}
        return model.config.get("gguf") or _gguf_header(model.gguf_paths[0])

    @contextlib.asynccontextmanager
    async def use(
        self, reference: str, mode: str = COMPLETION, model: LocalModel | None = None
    ) -> AsyncIterator[tuple[Engine, dict[str, object]]]:
        """Hold a running engine for ``reference`` in ``mode`` for the length of one request.

        ``model``: what ``reference`` names, when the caller has found it already. Yields the engine
        and the sampling defaults to add to the request; after a configure, waits for the engine of the
        old configuration to finish the requests it holds. Raises ModelNotFound, or EngineError
        (InsufficientMemory, BackendUnavailable among them) when no engine can run.
        """
        self.start_background()
        model = model or self.find(reference)
        key = (model.id, mode)
        slot = self._slots.setdefault(key, _Slot(model, reference, mode))
        slot.in_flight += 1
        serving = False
        try:
            async with slot.lock:
                await self._note_crash(slot)
                if slot.crash_loop:
                    raise EngineCrashLoop(slot.crash_loop)
                engine = slot.engine
                running = engine is not None and engine.is_running()
                plan = self._plans.get(key) if running else None
                if plan is None:  # planned anew for each start: the backend may have been installed since
                    plan = self._plans[key] = self._plan(model, mode)
                if not running or engine is None or engine.spec != plan.spec:
                    await self._drain(slot)
                    # A configure may have come while it drained.
                    plan = self._plans[key] = self._plans.get(key) or self._plan(model, mode)
                    await self._stop(slot)
                    slot.backend = plan.spec.backend
                    await self._start(slot, plan)
                engine = slot.engine
                assert engine is not None
                slot.serving += 1
                serving = True
            yield engine, plan.sampling_defaults
        finally:
            if serving:
                slot.serving -= 1
                if slot.serving == 0:
                    slot.released.set()
            slot.in_flight -= 1
            slot.last_used = time.time()
            if slot.in_flight == 0:
                self._capacity_freed.set()
                self._reaper_wake.set()

    @staticmethod
    async def _drain(slot: _Slot) -> None:
        """Wait until no request holds the slot's engine, so that stopping it cuts none off.

        Called with the slot's lock held: requests that come meanwhile wait behind it for the next engine.
        """
        while slot.serving:
            slot.released.clear()
            await slot.released.wait()

    async def _start(self, slot: _Slot, plan: _Plan) -> None:
        await self._make_room(slot, plan.memory)
        try:
            try:
                await asyncio.to_thread(catalog.ensure_trusted, plan.spec.backend)
            except EngineError as error:
                say(str(error))
                raise
            log_name = f"engine-{slot.model.id.removeprefix('sha256:')[:12]}-{slot.mode}.log"
            engine = catalog.create_engine(plan.spec, self._log_dir / log_name)
            try:
                await engine.start(self.settings.load_timeout)
            except EngineError:
                report = await engine.crashed()
                if report is not None and self._record_crash(slot, report):
                    raise EngineCrashLoop(slot.crash_loop) from None
                raise
            slot.engine = engine
        finally:
            slot.loading = False
            self._capacity_freed.set()

    async def _note_crash(self, slot: _Slot) -> None:
        """Count the crash of the slot's engine if it died on its own, and let it go."""
        engine = slot.engine
        report = await engine.crashed() if engine is not None else None
        if report is not None and slot.engine is engine:
            slot.engine = None
            self._capacity_freed.set()
            self._record_crash(slot, report)

    def _record_crash(self, slot: _Slot, report: str) -> bool:
        """Count one crash, and say so in the runner's log; True when the engine now keeps crashing,
        and so is not started again."""
        say(report)
        now = time.monotonic()
        slot.crash_times = [moment for moment in slot.crash_times if now - moment < CRASH_WINDOW] + [now]
        if len(slot.crash_times) < CRASH_LIMIT:
            return False
        slot.crash_loop = (
            f"the engine for {slot.reference!r} crashed {len(slot.crash_times)} times within {CRASH_WINDOW:.0f}s "
            f"and is not started again until the model is reconfigured (`compose-models configure {slot.reference}`) "
            f"or the runner restarts; the last crash: {report}"
        )
        return True

    async def _make_room(self, slot: _Slot, memory: MemoryEstimate) -> None:
        """Reserve ``memory`` for ``slot`` (it then counts as loading), evicting or waiting as needed."""
        name = slot.model.tags[0] if slot.model.tags else slot.model.id
        deadline = asyncio.get_running_loop().time() + self.settings.load_wait
        while True:
            async with self._placement_lock:
                residents = self._residents(excluding=slot)
                budget, max_loaded = self.settings.memory_budget, self.settings.max_loaded_models
                origin = self.settings.memory_budget_origin
                placement = plan_placement(name, memory.total, memory.describe(), residents, budget, max_loaded, origin)
                if placement is not None:
                    await _stop_all([self._slots[key] for key in placement.evict])
                    slot.memory, slot.loading = memory, True
                    return
                self._capacity_freed.clear()
            try:
                async with asyncio.timeout_at(deadline):
                    await self._capacity_freed.wait()
            except TimeoutError:
                raise InsufficientMemory(explain_refusal(name, memory.describe(), residents, budget, max_loaded, origin)) from None

    def _residents(self, excluding: _Slot) -> list[Resident]:
        return [
            Resident(
                key, slot.reference, slot.memory.total if slot.memory else 0, not slot.is_idle, slot.last_used,
                pinned=bool(self._pins.projects_of(slot.model.id)),
            )
            for key, slot in self._slots.items()
            if slot is not excluding and slot.holds_memory
        ]

    async def _stop(self, slot: _Slot) -> None:
        await _stop_all([slot])
        self._capacity_freed.set()

    async def unload(self, references: list[str] | None = None) -> int:
        """Stop idle engines (all, or those of ``references``); engines in use are left running."""
        ids = None if references is None else {self.find(r).id for r in references}
        idle = [
            slot
            for (model_id, _), slot in self._slots.items()
            if (ids is None or model_id in ids) and slot.is_idle and slot.engine and slot.engine.is_running()
        ]
        await _stop_all(idle)
        self._capacity_freed.set()
        return len(idle)

    def keep_alive_of(self, model: LocalModel) -> float:
        configured = self.configuration(model).keep_alive
        return self.settings.keep_alive if configured is None else configured

    def running(self) -> list[LoadedEngine]:
        """Loaded and loading engines."""
        return [
            LoadedEngine(
                model=slot.model,
                reference=slot.reference,
                mode=slot.mode,
                backend_name=catalog.dmr_backend_name(slot.backend),
                in_use=slot.in_flight > 0,
                loading=slot.loading,
                last_used=slot.last_used,
                keep_alive=self.configuration(slot.model).keep_alive,
                unloads_after=self.keep_alive_of(slot.model),
                pinned_by=tuple(self._pins.projects_of(slot.model.id)),
                configuration=self.configuration(slot.model),
                engine=slot.engine,
            )
            for slot in self._slots.values()
            if slot.holds_memory
        ]

    def backend_status(self) -> dict[str, str]:
        """``GET /engines/status``: each backend with its state, version and accelerator."""
        return catalog.backend_status()

    def start_background(self) -> None:
        """Start the keep-alive reaper if it is not running (idempotent; needs a running event loop)."""
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.get_running_loop().create_task(self._reap_idle_engines())
        if self._project_checker is None or self._project_checker.done():
            self._project_checker = asyncio.get_running_loop().create_task(self._check_projects())

    async def _check_projects(self) -> None:
        """Release the pins of projects no longer up, as the engine's running containers show; at the first
        answer (after a restart) load again the models of the pinning projects that are still up."""
        warmed = False
        while True:
            try:
                if self._pins.projects():
                    running = await asyncio.to_thread(running_projects)
                    if running is not None:
                        for project in self._pins.gone(running, time.time(), self._pin_grace):
                            self.release(project)
                        if not warmed:
                            warmed = True
                            await self._warm(self._pins.models_of(running))
            except Exception as error:  # noqa: BLE001 (a failed check must not end the checks: pins would never be released)
                say(f"checking which Compose projects are up failed ({type(error).__name__}: {error}); trying again later")
            await asyncio.sleep(self._project_check_interval)

    async def _warm(self, models: dict[str, str]) -> None:
        """Load the pinned models of projects that are up, as ``up`` did before the runner restarted."""
        for reference in models.values():
            try:
                seconds = await self.preload(reference)
            except (ModelNotFound, EngineError) as error:
                say(f"could not load {reference} again for its Compose project: {error}")
            else:
                say(f"loaded {reference} again for its Compose project in {seconds:.1f} s")

    async def _reap_idle_engines(self) -> None:
        while True:
            now = time.time()
            next_deadline = None
            for slot in list(self._slots.values()):
                await self._note_crash(slot)
                if slot.is_idle and self._is_stale(slot):  # drained after a configure
                    await self._stop(slot)
                    continue
                keep_alive = self.keep_alive_of(slot.model)
                if not slot.is_idle or slot.engine is None or keep_alive < 0 or self._pins.projects_of(slot.model.id):
                    continue
                deadline = slot.last_used + keep_alive
                if deadline <= now or not slot.engine.is_running():
                    await self._stop(slot)
                else:
                    next_deadline = min(next_deadline or deadline, deadline)
            self._reaper_wake.clear()
            timeout = None if next_deadline is None else max(next_deadline - time.time(), 0.05)
            # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow the cancellation of shutdown.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._reaper_wake.wait()

    async def shutdown(self) -> None:
        for task in (self._reaper, self._project_checker):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await _stop_all(list(self._slots.values()))

    async def discard(self, engine: Engine, reason: str) -> None:
        """Stop ``engine``, which hung (``reason`` says how), if a slot still runs it: the next request
        starts a fresh one. Requests still waiting on it fail as their own timeouts expire."""
        slot = next((slot for slot in self._slots.values() if slot.engine is engine), None)
        if slot is not None:
            say(f"{reason}; it is stopped, and the next request starts it again")
            await self._stop(slot)


async def _stop_all(slots: list[_Slot]) -> None:
    """Detach the engines from their slots at once, so no request picks one up while it stops, then stop them."""
    engines = []
    for slot in slots:
        engine, slot.engine = slot.engine, None
        if engine is not None:
            engines.append(engine)
    await asyncio.gather(*(engine.stop() for engine in engines))


_EMBEDDING_ARCHITECTURES = {"bert", "nomic-bert", "jina-bert-v2", "t5encoder", "xlm-roberta", "modern-bert"}


def _preload_mode(model: LocalModel) -> str:
    """The mode a preload starts: embedding for an encoder-only (or pooling) model, else completion."""
    gguf = model.config.get("gguf") or {}
    architecture = str(gguf.get("general.architecture", model.config.get("architecture", ""))).lower()
    pooling = f"{architecture}.pooling_type" in gguf
    return EMBEDDING if architecture in _EMBEDDING_ARCHITECTURES or pooling else COMPLETION


def _parallel(backend: str, asked: int | None, mode: str) -> int | None:
    """The engine's request slots: llama-server's as asked (None: its own choice); the batched engine's as
    asked, else its default (one when it embeds); the other backends serve one request at a time."""
    if backend == llama_server.NAME:
        return asked
    if backend == batched.NAME:
        return 1 if mode in (EMBEDDING, RERANKING) else asked or batched.default_slots()
    return 1


def _format_of(model: LocalModel) -> str:
    return str(model.config.get("format") or "gguf")


@lru_cache(maxsize=32)
def _gguf_header(path: Path) -> dict[str, Any]:
    """The GGUF map of a model whose config lacks one (CNCF artifacts), read from the file itself."""
    return cast(dict[str, Any], read_gguf_config(path)["gguf"])
