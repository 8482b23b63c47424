"""A model's runner configuration (context size, runtime flags, keep-alive) as JSON documents."""

from typing import Any

from compose_models.runner.http.errors import ApiError
from compose_models.runner.scheduling.scheduler import ModelConfiguration, ModelNotFound, Scheduler
from compose_models.store.model import StoredModel
from compose_models.units import format_duration

SMALLEST_CONTEXT = 64


def configuration_json(configuration: ModelConfiguration) -> dict[str, Any]:
    """Docker Model Runner's BackendConfiguration fields that this runner has."""
    document: dict[str, Any] = {}
    if configuration.context_size:
        document["context-size"] = configuration.context_size
    if configuration.runtime_flags:
        document["runtime-flags"] = list(configuration.runtime_flags)
    if configuration.keep_alive is not None:
        document["keep_alive"] = format_duration(configuration.keep_alive)
    return document


def configuration_document(scheduler: Scheduler, reference: str) -> dict[str, Any] | None:
    """The configuration of the model ``reference`` names; None if there is no such model."""
    try:
        return configuration_json(scheduler.configuration(scheduler.find(reference)))
    except ModelNotFound:
        return None


def check_context_size(model: StoredModel, size: int | None, field: str) -> None:
    """400 unless ``size`` is unset or between 64 and the context the model was trained with.

    llama.cpp would start an engine with any size, but one past the trained context answers badly
    and a huge one fails to load long after the request that asked for it was accepted.
    """
    if size is None:
        return
    metadata = model.config.get("gguf") or {}
    trained_text = str(metadata.get(f"{model.config.get('architecture')}.context_length", ""))
    trained = int(trained_text) if trained_text.isdigit() else None
    if size < SMALLEST_CONTEXT or (trained and size > trained):
        upper = f" and {trained} (the context the model was trained with)" if trained else ""
        raise ApiError(400, f"{field}: {size} is out of range: use between {SMALLEST_CONTEXT}{upper}", param=field)
