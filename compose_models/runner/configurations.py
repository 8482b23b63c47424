"""A model's runner configuration (context size, runtime flags, keep-alive) as JSON documents."""

from typing import Any

from compose_models.runner.durations import format_duration
from compose_models.runner.scheduler import ModelConfiguration, ModelNotFound, Scheduler


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
