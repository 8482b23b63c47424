"""What ``/api/create`` stored with a model, applied to its Ollama requests as Ollama does: the system
prompt unless the conversation starts with its own, the stored messages before the conversation, and
the stored parameters as defaults of ``options`` (the request's own options win)."""

from typing import Any, TypeVar

import pydantic

from compose_models.runner.api.ollama.schema import ChatMessage, ChatRequest, GenerateRequest, Options
from compose_models.store.create import stored_settings
from compose_models.store.model import StoredModel

Request = TypeVar("Request", ChatRequest, GenerateRequest)


def with_model_defaults(model: StoredModel | None, request: Request) -> Request:
    settings = stored_settings(model) if model is not None else {}
    if not settings:
        return request
    update: dict[str, Any] = {"options": _options(request.options, settings.get("parameters") or {})}
    system = settings.get("system")
    if isinstance(request, GenerateRequest):
        if request.system is None and system:
            update["system"] = system
        return request.model_copy(update=update)
    head = [ChatMessage.model_validate(message) for message in settings.get("messages") or []]
    if system and not (request.messages and request.messages[0].role == "system"):
        head.insert(0, ChatMessage(role="system", content=system))
    update["messages"] = head + list(request.messages)
    return request.model_copy(update=update)


def _options(options: Options | None, defaults: dict[str, Any]) -> Options | None:
    if not defaults:
        return options
    given = options.model_dump(exclude_unset=True) if options is not None else {}
    try:
        return Options.model_validate({**defaults, **given})
    except pydantic.ValidationError:  # checked when the model was created; a hand-edited config is skipped
        return options
