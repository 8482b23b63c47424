"""Which engine serves which model: lazy start on first use, one process per model, configuration.

Context size precedence: ``configure`` > the artifact's ``context_size`` > 4096.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from compose_models.runner.engine import EngineProcess, EngineSpec
from compose_models.runner.runtime_flags import RuntimeOptions, parse_runtime_flags

DEFAULT_CONTEXT_SIZE = 4096
COMPLETION = "completion"
EMBEDDING = "embedding"


class LocalModel(Protocol):
    id: str
    tags: list[str]
    context_size: int | None
    gguf_paths: list[Path]


ModelLookup = Callable[[str], LocalModel | None]


class ModelNotFound(Exception):
    def __init__(self, reference: str) -> None:
        super().__init__(f"model {reference!r} not found")
        self.reference = reference


class ModelBusy(Exception):
    """A reconfiguration would restart an engine that is serving requests."""


@dataclass
class ModelConfiguration:
    context_size: int | None = None
    runtime_flags: list[str] = field(default_factory=list)
    options: RuntimeOptions = field(default_factory=RuntimeOptions)
    keep_alive: float | None = None  # seconds; None = the runner's default, negative = never unload


@dataclass
class _Slot:
    model: LocalModel
    reference: str
    mode: str
    engine: EngineProcess | None = None
    in_flight: int = 0
    last_used: float = field(default_factory=time.time)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Scheduler:
    def __init__(self, lookup: ModelLookup, log_dir: Path) -> None:
        self._lookup = lookup
        self._log_dir = log_dir
        self._configurations: dict[str, ModelConfiguration] = {}
        self._slots: dict[tuple[str, str], _Slot] = {}  # (model id, mode)

    def find(self, reference: str) -> LocalModel:
        model = self._lookup(reference)
        if model is None:
            raise ModelNotFound(reference)
        return model

    def configuration(self, model: LocalModel) -> ModelConfiguration:
        return self._configurations.get(model.id, ModelConfiguration())

    async def configure(
        self, reference: str, context_size: int | None, runtime_flags: list[str], keep_alive: float | None = None
    ) -> None:
        """Store a model's configuration; idle engines started with another one are stopped."""
        model = self.find(reference)
        options = parse_runtime_flags(runtime_flags)
        self._configurations[model.id] = ModelConfiguration(context_size, list(runtime_flags), options, keep_alive)
        for slot in self._slots_of(model.id):
            if slot.engine and slot.engine.spec != self._spec(model, slot.mode):
                if slot.in_flight:
                    raise ModelBusy(f"model {reference!r} is serving requests; configure it again when idle")
                await self._stop(slot)

    def _slots_of(self, model_id: str) -> list["_Slot"]:
        return [slot for (slot_model_id, _), slot in self._slots.items() if slot_model_id == model_id]

    def _spec(self, model: LocalModel, mode: str) -> EngineSpec:
        configuration = self.configuration(model)
        settings = dict(configuration.options.engine)
        if mode == EMBEDDING:
            settings["embedding"] = True
        context_size = (
            configuration.context_size or settings.pop("n_ctx", None) or model.context_size or DEFAULT_CONTEXT_SIZE
        )
        settings.pop("n_ctx", None)
        return EngineSpec(
            model_path=model.gguf_paths[0],
            alias=model.tags[0] if model.tags else model.id,
            context_size=int(context_size),
            settings=tuple(sorted(settings.items())),
        )

    @contextlib.asynccontextmanager
    async def use(
        self, reference: str, mode: str = COMPLETION
    ) -> AsyncIterator[tuple[EngineProcess, dict[str, object]]]:
        """Hold a running engine for ``reference`` in ``mode`` for the length of one request."""
        model = self.find(reference)
        slot = self._slots.setdefault((model.id, mode), _Slot(model, reference, mode))
        slot.in_flight += 1
        try:
            async with slot.lock:
                spec = self._spec(model, mode)
                if slot.engine is None or not slot.engine.is_running() or slot.engine.spec != spec:
                    await self._stop(slot)
                    log_name = f"engine-{model.id.removeprefix('sha256:')[:12]}-{mode}.log"
                    engine = EngineProcess(spec, self._log_dir / log_name)
                    await engine.start()
                    slot.engine = engine
            yield slot.engine, dict(self.configuration(model).options.sampling_defaults)
        finally:
            slot.in_flight -= 1
            slot.last_used = time.time()

    async def _stop(self, slot: _Slot) -> None:
        if slot.engine is not None:
            await slot.engine.stop()
            slot.engine = None

    async def unload(self, references: list[str] | None = None) -> int:
        """Stop idle engines (all, or those of ``references``); engines in use are left running."""
        ids = None if references is None else {self.find(r).id for r in references}
        unloaded = 0
        for (model_id, _), slot in self._slots.items():
            if (ids is None or model_id in ids) and slot.engine and slot.engine.is_running() and not slot.in_flight:
                await self._stop(slot)
                unloaded += 1
        return unloaded

    def running(self) -> list[dict[str, object]]:
        """Loaded engines, in the shape of Docker Model Runner's ``GET /engines/ps``."""
        return [
            {
                "backend_name": "llama.cpp",
                "model_name": slot.reference,
                "mode": slot.mode,
                "last_used": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(slot.last_used)),
                **({"in_use": True} if slot.in_flight else {}),
            }
            for slot in self._slots.values()
            if slot.engine and slot.engine.is_running()
        ]

    async def shutdown(self) -> None:
        await asyncio.gather(*(self._stop(slot) for slot in self._slots.values()))
