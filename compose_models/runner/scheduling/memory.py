"""How much memory the runner may use for its engines; what one engine takes is ``store.memory_estimate``.

On Apple silicon the models live in memory the GPU shares with everything else, and Metal holds at most
its recommended working set (about two thirds of RAM on Macs of 32 GB or less): that is the default
budget there, as the engine's device list gives it, else two thirds of RAM. Elsewhere 75% of RAM.
``$COMPOSE_MODELS_MEMORY_BUDGET`` (``serve --memory-budget``) overrides either.
"""

import os
from dataclasses import dataclass

from compose_models.runner.backends import apple, devices, llama_cpp_python, llama_server
from compose_models.runner.configuration.environment import BUDGET_VARIABLE
from compose_models.units import parse_size

DEFAULT_BUDGET_FRACTION = 0.75  # of RAM, where the GPU (if any) does not share it
APPLE_FALLBACK_FRACTION = 2 / 3  # Metal's working set on Macs of 32 GB or less, when it cannot be read


@dataclass(frozen=True)
class MemoryBudget:
    size: int  # bytes
    origin: str  # where the figure came from, as a refusal or doctor says it


def physical_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


@dataclass(frozen=True)
class WorkingSet:
    size: int  # bytes
    source: str  # the device list it was read from


def metal_working_set() -> WorkingSet | None:
    """Metal's recommended working set as the engines' device lists give it: the llama-server found, else
    llama-cpp-python's ggml (each asked once per process); None when neither lists a Metal device."""
    binary = llama_server.find_binary()
    if binary is not None:
        size = devices.metal_working_set(llama_server.list_devices(binary))
        if size:
            return WorkingSet(size, "llama-server --list-devices")
    size = devices.metal_working_set(llama_cpp_python.list_devices())
    return WorkingSet(size, "llama-cpp-python's device list") if size else None


def budget() -> MemoryBudget:
    """The budget and its origin: ``$COMPOSE_MODELS_MEMORY_BUDGET`` (e.g. ``8GiB``), else on Apple silicon
    Metal's working set (two thirds of RAM when it cannot be read), else 75% of RAM."""
    configured = os.environ.get(BUDGET_VARIABLE)
    if configured:
        return MemoryBudget(parse_size(configured, BUDGET_VARIABLE), f"set by {BUDGET_VARIABLE} or --memory-budget")
    physical = physical_memory()
    if apple.apple_silicon():
        working_set = metal_working_set()
        if working_set:
            return MemoryBudget(working_set.size, f"Metal's working set, from {working_set.source}")
        return MemoryBudget(int(physical * APPLE_FALLBACK_FRACTION), "two thirds of RAM: Metal's working set could not be read")
    return MemoryBudget(int(physical * DEFAULT_BUDGET_FRACTION), "75% of RAM")
