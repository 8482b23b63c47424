"""Per-caller limits with a controlled clock."""

from compose_models.gateway.limits import CallerLimits, Limits


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_requests_per_minute_is_a_sliding_window_per_caller() -> None:
    clock = Clock()
    limits = CallerLimits(Limits(requests_per_minute=2), clock)
    assert limits.admit("a") is None and limits.admit("a") is None
    refusal = limits.admit("a")
    assert refusal is not None and refusal.retry_after == 60
    assert limits.admit("b") is None  # another caller has its own window
    clock.now += 30
    assert limits.admit("a").retry_after == 30
    clock.now += 30
    assert limits.admit("a") is None


def test_concurrent_requests_are_counted_until_released() -> None:
    limits = CallerLimits(Limits(concurrent_requests=1), Clock())
    assert limits.admit("a") is None
    assert limits.admit("a").retry_after == 1
    assert limits.in_flight() == {"a": 1}
    limits.release("a", 0)
    assert limits.admit("a") is None


def test_tokens_per_minute_is_a_bucket_charged_after_the_answer() -> None:
    clock = Clock()
    limits = CallerLimits(Limits(tokens_per_minute=60), clock)
    assert limits.admit("a") is None
    limits.release("a", 90)  # 30 tokens in debt: one token a second refills it
    refusal = limits.admit("a")
    assert refusal is not None and refusal.retry_after == 31
    clock.now += 31
    assert limits.admit("a") is None
