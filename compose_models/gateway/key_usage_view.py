"""Usage per key as the dashboard and Prometheus see it: today's and this month's, with each key's budgets.
Labels name keys (never their secrets), at most ``MAX_KEY_LABELS`` of them; the rest are summed as "(other)"."""

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from compose_models.gateway.key_usage import OTHER, DayUsage, KeyUsage, today
from compose_models.gateway.keys import ApiKeys

MAX_KEY_LABELS = 64
SHOWN_DAYS = 31


def _month(usage: KeyUsage, key: str | None = None) -> list[DayUsage]:
    return usage.days(today().replace(day=1), key)


def _totals(rows: list[DayUsage], day: str | None = None) -> dict[str, list[int]]:
    """key -> [requests, prompt tokens, completion tokens], over ``rows`` (of ``day`` only, if given)."""
    totals: dict[str, list[int]] = {}
    for row in rows:
        if day is None or row.day == day:
            total = totals.setdefault(row.key, [0, 0, 0])
            total[0] += row.requests
            total[1] += row.prompt_tokens
            total[2] += row.completion_tokens
    return totals


def _bounded(totals: dict[str, list[int]]) -> dict[str, list[int]]:
    if len(totals) <= MAX_KEY_LABELS:
        return totals
    kept = sorted(totals, key=lambda key: -(totals[key][1] + totals[key][2]))[: MAX_KEY_LABELS - 1]
    bounded = {key: totals[key] for key in kept}
    other = bounded.setdefault(OTHER, [0, 0, 0])
    for key, total in totals.items():
        if key not in kept and key != OTHER:
            other[:] = [a + b for a, b in zip(other, total)]
    return bounded


class KeyUsageCollector(Collector):
    def __init__(self, usage: KeyUsage, keys: ApiKeys) -> None:
        self.usage = usage
        self.keys = keys

    def describe(self) -> list[Any]:
        return []  # read at scrape time only, never at registration

    def collect(self) -> Iterator[GaugeMetricFamily]:
        rows = _month(self.usage)
        day = _bounded(_totals(rows, today().isoformat()))
        month = _bounded(_totals(rows))
        requests = GaugeMetricFamily("compose_models_key_requests_today", "Requests per API key this UTC day", labels=["key"])
        tokens = GaugeMetricFamily(
            "compose_models_key_tokens_today", "Tokens per API key this UTC day, by kind", labels=["key", "kind"]
        )
        monthly = GaugeMetricFamily("compose_models_key_tokens_month", "Tokens per API key this UTC month", labels=["key"])
        budgets = GaugeMetricFamily(
            "compose_models_key_token_budget", "An API key's token budget, per period (day, month)", labels=["key", "period"]
        )
        for key, (count, prompt, completion) in day.items():
            requests.add_metric([key], count)
            tokens.add_metric([key, "prompt"], prompt)
            tokens.add_metric([key, "completion"], completion)
        for key, (_, prompt, completion) in month.items():
            monthly.add_metric([key], prompt + completion)
        for key, rules in list(self.keys.rules_by_name.items())[:MAX_KEY_LABELS]:
            for period, budget in (("day", rules.tokens_per_day), ("month", rules.tokens_per_month)):
                if budget is not None:
                    budgets.add_metric([key, period], budget)
        yield from (requests, tokens, monthly, budgets)


def usage_document(usage: KeyUsage, keys: ApiKeys, only_key: str | None) -> list[dict[str, Any]]:
    """The dashboard's rows: per key, today's and this month's usage and its budgets; with ``only_key``
    (a caller who may not see others') that key's alone."""
    rows = _month(usage, only_key)
    day, month = _totals(rows, today().isoformat()), _totals(rows)
    shown = []
    for key in sorted(month):
        rules = keys.rules_of(key)
        shown.append({
            "key": key,
            "today": dict(zip(("requests", "prompt_tokens", "completion_tokens"), day.get(key, [0, 0, 0]))),
            "month": dict(zip(("requests", "prompt_tokens", "completion_tokens"), month[key])),
            "tokens_per_day": rules.tokens_per_day,
            "tokens_per_month": rules.tokens_per_month,
            "models": list(rules.models) if rules.models is not None else None,
        })  # fmt: skip
    return shown
