"""Whether a model can be loaded next to the ones already loaded, and which idle ones must go first.

A pure decision, kept apart from processes and locks so it can be tested as a table: fit within the
memory budget and the maximum number of loaded models, evicting least-recently-used idle models
only (unpinned ones first), never one that is serving requests.
"""

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from compose_models.runner.errors import EngineUnavailable
from compose_models.units import format_bytes


@dataclass(frozen=True)
class Resident:
    """A loaded (or loading) engine, as placement sees it."""

    key: Hashable
    name: str
    memory: int
    busy: bool  # serving or loading: never evicted
    last_used: float
    pinned: bool = False  # by a Compose project that is up: evicted only after every unpinned idle model


@dataclass(frozen=True)
class Placement:
    """Room is made by evicting ``evict`` (possibly none), in this order."""

    evict: tuple[Any, ...]  # the residents' keys


class InsufficientMemory(EngineUnavailable):
    """A model does not fit in the memory budget; the message gives the numbers."""


def _budget(budget: int, origin: str) -> str:
    return f"{format_bytes(budget)} ({origin})" if origin else format_bytes(budget)


def plan_placement(
    name: str, needed: int, description: str, residents: list[Resident], budget: int, max_loaded: int,
    origin: str = "",
) -> Placement | None:  # fmt: skip
    """How to make room for ``needed`` bytes; None when only models now serving requests stand in the way.

    Raises InsufficientMemory when the model could never fit, however many others were unloaded.
    ``origin`` says where the budget came from (Metal's working set, a share of RAM, the environment).
    """
    if needed > budget:
        raise InsufficientMemory(
            f"cannot load {name}: it needs about {description}, more than the runner's memory budget of "
            f"{_budget(budget, origin)}; lower its context size (`configure --context-size`) or raise the budget "
            "(`serve --memory-budget`, or COMPOSE_MODELS_MEMORY_BUDGET)"
        )
    used = sum(resident.memory for resident in residents)
    count = len(residents)
    evict: list[Hashable] = []
    for resident in sorted((r for r in residents if not r.busy), key=lambda r: (r.pinned, r.last_used)):
        if used + needed <= budget and count < max_loaded:
            break
        evict.append(resident.key)
        used -= resident.memory
        count -= 1
    if used + needed <= budget and count < max_loaded:
        return Placement(tuple(evict))
    return None


def explain_refusal(
    name: str, description: str, residents: list[Resident], budget: int, max_loaded: int, origin: str = ""
) -> str:
    """Why a load that waited for busy models still cannot proceed."""
    busy = [r for r in residents if r.busy]
    held = sum(r.memory for r in busy)
    holders = ", ".join(f"{r.name} ({format_bytes(r.memory)})" for r in busy) or "none"
    return (
        f"cannot load {name} (about {description}): {format_bytes(held)} of the {_budget(budget, origin)} memory "
        f"budget and {len(busy)} of {max_loaded} model slots are held by models serving requests: {holders}. "
        "Try again when they are idle, or raise the budget (`serve --memory-budget`)"
    )
