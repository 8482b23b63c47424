"""The scheduler's limits: memory budget, most loaded models, default keep-alive, load timeouts.

Read from the environment, which ``compose-models serve`` options set (so a detached runner inherits them).
"""

import os
from dataclasses import dataclass

from compose_models.errors import UserError
from compose_models.runner.scheduling.memory import memory_budget
from compose_models.units import parse_duration

DEFAULT_KEEP_ALIVE = 300.0  # seconds, as Docker Model Runner and Ollama
MAX_LOADED_VARIABLE = "COMPOSE_MODELS_MAX_LOADED_MODELS"
KEEP_ALIVE_VARIABLE = "COMPOSE_MODELS_KEEP_ALIVE"


@dataclass(frozen=True)
class SchedulerSettings:
    memory_budget: int
    max_loaded_models: int
    keep_alive: float  # seconds; negative: never unload
    load_timeout: float = 300.0  # readiness by health polling
    load_wait: float = 120.0  # how long a load waits for busy models to make room

    @classmethod
    def from_environment(cls) -> "SchedulerSettings":
        """``COMPOSE_MODELS_MEMORY_BUDGET``, ``COMPOSE_MODELS_MAX_LOADED_MODELS``, ``COMPOSE_MODELS_KEEP_ALIVE``."""
        max_loaded = os.environ.get(MAX_LOADED_VARIABLE)
        keep_alive = os.environ.get(KEEP_ALIVE_VARIABLE)
        return cls(
            memory_budget=memory_budget(),
            # Docker Model Runner's min(CPUs, 8), but at least a chat and an embedding engine.
            max_loaded_models=int(max_loaded) if max_loaded else max(2, min(os.cpu_count() or 1, 8)),
            keep_alive=_keep_alive_setting(keep_alive) if keep_alive else DEFAULT_KEEP_ALIVE,
        )


def _keep_alive_setting(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise UserError(f"{KEEP_ALIVE_VARIABLE}: {error}") from None
