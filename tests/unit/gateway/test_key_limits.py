"""A key's own limits as the keys file states them, and the usage per key kept across restarts."""

from datetime import date, timedelta

import pytest

from compose_models.errors import UserError
from compose_models.gateway.key_limits import budget_refusal, model_refusal
from compose_models.gateway.key_usage import KEPT_DAYS, KeyUsage
from compose_models.gateway.key_usage_view import usage_document
from compose_models.gateway.keys import KeyRules, parse_keys
from compose_models.runner.http.dialects import Dialect
from compose_models.runner.http.exchange import Exchange, Inbound, RequestBody, RouteKind


def test_a_keys_file_line_names_models_and_budgets_and_a_wrong_option_is_named() -> None:
    keys = parse_keys([
        "app: sk-app models=ai/smollm2*,local/qwen3 tokens-per-day=1000 tokens-per-month=20000",
        "ops: sk-ops admin tokens-per-month=5",
        "old: sk-old", "old: sk-new",
    ], "api-keys")  # fmt: skip
    assert keys.rules_of("app") == KeyRules(("ai/smollm2*", "local/qwen3"), 1000, 20000)
    assert keys.rules_of("ops").tokens_per_month == 5 and keys.is_admin("sk-ops")
    assert keys.rules_of("old") == KeyRules() and keys.name_of("sk-new") == "old"
    for line, named in (
        ("a: k tokens-per-day=0", "tokens-per-day= expects a positive whole number"),
        ("a: k model=x", "'model=x' is not an option"),
        ("a: k models=", "'models=' is not an option"),
        ("a: k tokens-per-day=1 tokens-per-day=2", "tokens-per-day is given twice"),
    ):
        with pytest.raises(UserError, match=f"api-keys, entry 1: {named}"):
            parse_keys([line], "api-keys")
    with pytest.raises(UserError, match="'a' has other limits on another line"):
        parse_keys(["a: k1 tokens-per-day=1", "a: k2"], "api-keys")


def _exchange(model: str | None, label: str | None = None) -> Exchange:
    exchange = Exchange(Inbound("POST", "/v1/chat/completions", RouteKind(Dialect.OPENAI, inference=True), 0.0))
    exchange.body_read(RequestBody(model=model, model_label=label))
    return exchange


def test_a_key_may_use_a_model_by_any_of_its_names_and_no_other() -> None:
    rules = KeyRules(("smollm2*",))
    assert model_refusal("app", rules, _exchange("ai/smollm2:latest", label="smollm2")) is None
    refused = model_refusal("app", rules, _exchange("ai/qwen3"))
    assert refused is not None and refused.status == 403 and "may not use the model 'ai/qwen3'" in refused.message
    assert model_refusal("app", rules, _exchange(None)).status == 403
    assert model_refusal("app", KeyRules(), _exchange("anything")) is None


def test_usage_is_kept_per_day_across_reopening_and_old_days_are_dropped(tmp_path) -> None:
    path = tmp_path / "key-usage.sqlite"
    day = date(2026, 3, 31)
    usage = KeyUsage(path)
    usage.record("app", 10, 5, day)
    usage.record("app", 1, 2, day)
    usage.record("app", 100, 0, day - timedelta(days=KEPT_DAYS))
    usage.close()
    usage = KeyUsage(path)
    assert usage.tokens("app", day, day) == 18
    usage.record("bob", 1, 1, day + timedelta(days=1))  # a new day prunes what is past KEPT_DAYS
    assert usage.tokens("app", day - timedelta(days=KEPT_DAYS), day) == 18
    [row] = [row for row in usage.days(day) if row.key == "app"]
    assert (row.requests, row.prompt_tokens, row.completion_tokens) == (2, 11, 7)


def test_a_spent_budget_is_refused_until_the_next_utc_day_or_month(tmp_path) -> None:
    usage = KeyUsage(tmp_path / "key-usage.sqlite")
    day = date(2026, 12, 31)
    usage.record("app", 6, 4, day)
    assert budget_refusal("app", KeyRules(tokens_per_day=11), usage, day) is None
    spent = budget_refusal("app", KeyRules(tokens_per_day=10), usage, day)
    assert spent.error.status == 429 and spent.headers["x-should-retry"] == "false"
    assert "used 10 of its 10 tokens for this day (2026-12-31, UTC)" in spent.error.message
    assert "resets at 2027-01-01T00:00:00Z" in spent.error.message
    monthly = budget_refusal("app", KeyRules(tokens_per_month=5), usage, day)
    assert "month (2026-12, UTC)" in monthly.error.message
    keys = parse_keys(["app: sk tokens-per-day=10"], "f")
    assert usage_document(usage, keys, only_key="someone-else") == []


def test_prometheus_names_at_most_64_keys_and_sums_the_rest_as_other(tmp_path) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from compose_models.gateway.key_usage import today
    from compose_models.gateway.key_usage_view import MAX_KEY_LABELS, KeyUsageCollector

    usage = KeyUsage(tmp_path / "key-usage.sqlite")
    for index in range(MAX_KEY_LABELS + 6):
        usage.record(f"key-{index:03d}", 1000 - index, 0, today())  # the last keys used the fewest tokens
    registry = CollectorRegistry()
    registry.register(KeyUsageCollector(usage, parse_keys(["key-000: sk tokens-per-day=5"], "f")))
    text = generate_latest(registry).decode()
    requests = [line for line in text.splitlines() if line.startswith("compose_models_key_requests_today{")]
    assert len(requests) == MAX_KEY_LABELS
    assert 'compose_models_key_requests_today{key="(other)"} 7.0' in requests
    assert 'compose_models_key_token_budget{key="key-000",period="day"} 5.0' in text
