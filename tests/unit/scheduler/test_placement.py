"""Placement as a table: fit in the budget and the slot count, evicting idle models least recently used first."""

import pytest

from compose_models.runner.scheduling.placement import InsufficientMemory, Resident, explain_refusal, plan_placement

GIB = 1024**3


def resident(key: str, gib: float, busy: bool = False, last_used: float = 0.0) -> Resident:
    return Resident(key, key, int(gib * GIB), busy, last_used)


def place(needed_gib: float, residents: list[Resident], budget_gib: float = 10, max_loaded: int = 8):
    return plan_placement("new", int(needed_gib * GIB), f"{needed_gib} GiB", residents, int(budget_gib * GIB), max_loaded)


def test_room_to_spare_evicts_nothing() -> None:
    assert place(2, [resident("a", 3)]).evict == ()


def test_least_recently_used_idle_models_go_first_and_only_as_many_as_needed() -> None:
    residents = [resident("old", 3, last_used=1), resident("older", 3, last_used=0), resident("new", 3, last_used=2)]
    assert place(3, residents).evict == ("older",)
    assert place(6, residents).evict == ("older", "old")


def test_models_serving_requests_are_never_evicted() -> None:
    residents = [resident("busy", 6, busy=True, last_used=0), resident("idle", 2, last_used=5)]
    assert place(4, residents).evict == ("idle",)
    assert place(5, residents) is None  # only the busy model stands in the way: wait


def test_nothing_is_evicted_when_evicting_every_idle_model_would_not_be_enough() -> None:
    assert place(5, [resident("busy", 6, busy=True), resident("idle", 1)]) is None


def test_the_maximum_number_of_loaded_models_also_evicts() -> None:
    residents = [resident("a", 1, last_used=1), resident("b", 1, last_used=0)]
    assert place(1, residents, max_loaded=2).evict == ("b",)


def test_a_model_larger_than_the_budget_is_refused_with_the_numbers() -> None:
    with pytest.raises(InsufficientMemory) as raised:
        place(12, [])
    message = str(raised.value)
    assert "12 GiB" in message and "10.0 GiB" in message and "--memory-budget" in message


def test_a_refusal_after_waiting_names_the_busy_models() -> None:
    message = explain_refusal("new", "5 GiB", [resident("busy", 6, busy=True)], 10 * GIB, 8)
    assert "busy (6.0 GiB)" in message and "10.0 GiB" in message


def test_refusals_say_where_the_budget_came_from() -> None:
    origin = "Metal's working set, from llama-server --list-devices"
    message = explain_refusal("new", "5 GiB", [resident("busy", 6, busy=True)], 10 * GIB, 8, origin)
    assert f"10.0 GiB ({origin}) memory budget" in message, message
    with pytest.raises(InsufficientMemory, match=r"budget of 10\.0 GiB \(two thirds of RAM: Metal's working set"):
        plan_placement("new", 12 * GIB, "12 GiB", [], 10 * GIB, 8, "two thirds of RAM: Metal's working set could not be read")


def test_models_pinned_by_a_running_project_go_only_after_every_unpinned_idle_model() -> None:
    pinned = Resident("pinned", "pinned", 3 * GIB, False, 0.0, pinned=True)  # the least recently used
    residents = [pinned, resident("idle", 3, last_used=5), resident("idler", 3, last_used=4)]
    assert place(3, residents).evict == ("idler",)
    assert place(8, residents).evict == ("idler", "idle", "pinned")  # memory pressure still wins
