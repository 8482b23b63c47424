"""The scheduler's limits (memory budget, most loaded models, default keep-alive, load timeouts), and how
long the runner waits on an engine or a client.

Read from the environment, which ``compose-models serve`` options set (so a detached runner inherits them).
"""

import math
import os
from dataclasses import dataclass

from compose_models.errors import UserError
from compose_models.runner.configuration.environment import KEEP_ALIVE_VARIABLE, MAX_LOADED_VARIABLE
from compose_models.runner.scheduling import memory
from compose_models.units import parse_duration

DEFAULT_KEEP_ALIVE = 300.0  # seconds, as Docker Model Runner and Ollama


@dataclass(frozen=True)
class SchedulerSettings:
    memory_budget: int
    max_loaded_models: int
    keep_alive: float  # seconds; negative: never unload
    load_timeout: float = 300.0  # readiness by health polling
    load_wait: float = 120.0  # how long a load waits for busy models to make room
    memory_budget_origin: str = ""  # where the budget came from (Metal's working set, RAM, the environment)

    @classmethod
    def from_environment(cls) -> "SchedulerSettings":
        """``COMPOSE_MODELS_MEMORY_BUDGET``, ``COMPOSE_MODELS_MAX_LOADED_MODELS``, ``COMPOSE_MODELS_KEEP_ALIVE``."""
        max_loaded = os.environ.get(MAX_LOADED_VARIABLE)
        keep_alive = os.environ.get(KEEP_ALIVE_VARIABLE)
        budget = memory.budget()
        return cls(
            memory_budget=budget.size,
            memory_budget_origin=budget.origin,
            # Docker Model Runner's min(CPUs, 8), but at least a chat and an embedding engine.
            max_loaded_models=int(max_loaded) if max_loaded else max(2, min(os.cpu_count() or 1, 8)),
            keep_alive=_keep_alive_setting(keep_alive) if keep_alive else DEFAULT_KEEP_ALIVE,
        )


def _keep_alive_setting(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise UserError(f"{KEEP_ALIVE_VARIABLE}: {error}") from None


ENGINE_CONNECT_TIMEOUT_VARIABLE = "COMPOSE_MODELS_ENGINE_CONNECT_TIMEOUT"
ENGINE_READ_TIMEOUT_VARIABLE = "COMPOSE_MODELS_ENGINE_READ_TIMEOUT"
SEND_TIMEOUT_VARIABLE = "COMPOSE_MODELS_SEND_TIMEOUT"


@dataclass(frozen=True)
class Timeouts:
    """Seconds the runner waits before it gives up on an engine, or on a client that stopped reading.

    ``engine_read`` is the longest silence between two bytes of an engine's answer (and while a
    request is written to it), not a limit on the whole answer: streams go on as long as tokens
    come. A non-streamed answer, or a request queued behind others in the engine, sends nothing
    until it is done, hence the long default. An engine silent for longer is taken to have hung.
    """

    engine_connect: float = 10.0
    engine_read: float = 600.0
    send: float = 60.0  # the longest a streaming client may leave one chunk unread

    @classmethod
    def from_environment(cls) -> "Timeouts":
        """``COMPOSE_MODELS_ENGINE_CONNECT_TIMEOUT``, ``COMPOSE_MODELS_ENGINE_READ_TIMEOUT``, ``COMPOSE_MODELS_SEND_TIMEOUT``."""
        defaults = cls()
        return cls(
            engine_connect=duration_setting(ENGINE_CONNECT_TIMEOUT_VARIABLE, defaults.engine_connect),
            engine_read=duration_setting(ENGINE_READ_TIMEOUT_VARIABLE, defaults.engine_read),
            send=duration_setting(SEND_TIMEOUT_VARIABLE, defaults.send),
        )


def duration_setting(variable: str, default: float) -> float:
    """The positive duration (a Go duration, or seconds) the environment ``variable`` holds; ``default`` when unset."""
    text = os.environ.get(variable)
    if not text:
        return default
    try:
        seconds = parse_duration(text)
    except ValueError as error:
        raise UserError(f"{variable}: {error}") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise UserError(f"{variable}: {text!r} is not a positive duration (e.g. 30, 90s or 5m)")
    return seconds
