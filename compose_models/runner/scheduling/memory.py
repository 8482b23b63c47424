"""How much memory the runner may use for its engines; what one engine takes is ``store.memory_estimate``."""

import os

from compose_models.units import parse_size

BUDGET_VARIABLE = "COMPOSE_MODELS_MEMORY_BUDGET"
DEFAULT_BUDGET_FRACTION = 0.75  # like Metal's recommended working set on Apple silicon


def physical_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def memory_budget() -> int:
    """``$COMPOSE_MODELS_MEMORY_BUDGET`` (e.g. ``8GiB``), else 75% of the machine's memory."""
    configured = os.environ.get(BUDGET_VARIABLE)
    if configured:
        return parse_size(configured, BUDGET_VARIABLE)
    return int(physical_memory() * DEFAULT_BUDGET_FRACTION)
