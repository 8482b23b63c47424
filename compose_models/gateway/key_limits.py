"""A key's own limits, from the keys file: the models it may use (checked once the body reader has found
the model) and its token budgets per UTC day and month (checked before the body is read, against the
usage kept in ``key_usage``). A request admitted under its budget may go over it; the next is refused."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from compose_models.gateway.key_usage import KeyUsage, today
from compose_models.gateway.keys import KeyRules
from compose_models.runner.http.errors import ApiError
from compose_models.runner.http.exchange import Exchange


@dataclass(frozen=True)
class BudgetRefusal:
    error: ApiError
    headers: dict[str, str]


def model_refusal(key_name: str, rules: KeyRules, exchange: Exchange) -> ApiError | None:
    """403 when ``rules`` name models and the request's model is not one of them."""
    if rules.models is None:
        return None
    if not exchange.body.model:
        return ApiError(403, f"the key {key_name!r} may use only the models {', '.join(rules.models)}; "
                        "this request names none", param="model", code="model_not_allowed")  # fmt: skip
    return names_refusal(key_name, rules, exchange.body.model, model_names(exchange))


def names_refusal(key_name: str, rules: KeyRules, asked: str, names: list[str]) -> ApiError | None:
    """403 when ``rules`` name models and none of ``names`` (``asked``, and what it was found under) is one."""
    if rules.allows(names):
        return None
    allowed = ", ".join(rules.models or ())
    return ApiError(403, f"the key {key_name!r} may not use the model {asked!r}; it may use only {allowed}",
                    param="model", code="model_not_allowed")  # fmt: skip


def model_names(exchange: Exchange) -> list[str]:
    """The name a request sent and the names of the model it found: its label (as ``docker model ls``
    shows it), its tags as stored, or a remote model's name."""
    read = exchange.body
    resolved: Any = read.target
    names = [read.model or "", *([read.model_label] if read.model_label else [])]
    names += [tag for tag in getattr(resolved, "tags", None) or () if isinstance(tag, str)]
    if isinstance(getattr(resolved, "name", None), str):
        names.append(resolved.name)
    return names


def budget_refusal(key_name: str, rules: KeyRules, usage: KeyUsage, day: date | None = None) -> BudgetRefusal | None:
    """429 when the key has used its tokens for this UTC day or month, saying when they come back."""
    day = day or today()
    month_start = day.replace(day=1)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    for limit, since, resets, period in (
        (rules.tokens_per_day, day, day + timedelta(days=1), f"day ({day.isoformat()}, UTC)"),
        (rules.tokens_per_month, month_start, next_month, f"month ({day.strftime('%Y-%m')}, UTC)"),
    ):
        if limit is None:
            continue
        used = usage.tokens(key_name, since, day)
        if used >= limit:
            reset = datetime.combine(resets, time(), UTC)
            wait = max(1, int((reset - datetime.now(UTC)).total_seconds()))
            message = (
                f"the key {key_name!r} has used {used} of its {limit} tokens for this {period}; "
                f"its budget resets at {reset.isoformat().replace('+00:00', 'Z')}"
            )
            # x-should-retry: the official SDKs would otherwise retry a refusal that lasts until the reset.
            headers = {"retry-after": str(wait), "x-should-retry": "false"}
            return BudgetRefusal(ApiError(429, message, code="insufficient_quota"), headers)
    return None
