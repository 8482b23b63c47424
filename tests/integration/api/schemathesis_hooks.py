"""Schemathesis hooks for the runner (loaded through SCHEMATHESIS_HOOKS): keep generated generation
requests short, and send half of those that name a model to the real one, so the engine is exercised."""

import json
import math
from typing import Any

import schemathesis

from tests.conftest import LOCAL_MODEL_TAG

LENGTH_FIELDS = ("max_tokens", "max_completion_tokens", "max_output_tokens", "num_predict")
# Routes that use a model without changing the store or the model's configuration
READING_ROUTES = ("/completions", "/responses", "/embeddings", "/messages", "/count_tokens", "/api/chat", "/api/generate",
                  "/api/embed", "/api/embeddings", "/api/show")
LONGEST = 4


def _short(value: Any) -> Any:
    """A length limit of at most 4 tokens (numbers only: other values are for the runner to reject)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return min(max(int(value), 1), LONGEST)
    return value


def _shortened(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: _short(value) if key in LENGTH_FIELDS else value for key, value in fields.items()}


@schemathesis.hook
def map_body(context: schemathesis.HookContext, body: Any) -> Any:
    if not isinstance(body, dict):
        return body
    body = _shortened(body)
    body.pop("keep_alive", None)  # 0 would unload the engine after every request; durations are unit-tested
    path = context.operation.path if context.operation else ""
    if path.endswith(("/chat/completions", "/completions")) and body.get("max_tokens") is None:
        body["max_tokens"] = LONGEST  # without a limit (or with null), an answer runs to the end of the context
    if path.endswith("/responses") and body.get("max_output_tokens") is None:
        body["max_output_tokens"] = LONGEST
    options = body.get("options")
    if path.startswith("/api/") and (options is None or isinstance(options, dict)):
        # every new context size restarts the engine; the range check is tested on its own
        options = _shortened({key: value for key, value in (options or {}).items() if key != "num_ctx"})
        body["options"] = {**options, "num_predict": options.get("num_predict") or LONGEST}
    if "model" in body and path.endswith(READING_ROUTES) and len(json.dumps(body, default=str)) % 2 == 0:
        body["model"] = LOCAL_MODEL_TAG
    return body
