"""A model's runner configuration (context size, runtime flags, keep-alive, draft model) as JSON documents."""

from typing import Any

from compose_models.errors import UserError
from compose_models.runner.errors import ModelNotFound
from compose_models.runner.http.errors import ApiError
from compose_models.runner.scheduling import context_size
from compose_models.runner.scheduling.scheduler import ModelConfiguration, Scheduler
from compose_models.store.model import StoredModel
from compose_models.units import format_duration


def configuration_json(configuration: ModelConfiguration) -> dict[str, Any]:
    """Docker Model Runner's BackendConfiguration fields that this runner has."""
    document: dict[str, Any] = {}
    if configuration.context_size:
        document["context-size"] = configuration.context_size
    if configuration.runtime_flags:
        document["runtime-flags"] = list(configuration.runtime_flags)
    if configuration.keep_alive is not None:
        document["keep_alive"] = format_duration(configuration.keep_alive)
    if configuration.draft_model:
        document["speculative"] = {"draft_model": configuration.draft_model}
    return document


SETTINGS = {"context-size": "context_size", "runtime-flags": "runtime_flags", "keep_alive": "keep_alive"}


def configuration_sources(configuration: ModelConfiguration) -> dict[str, str]:
    """Where each setting came from: ``configure``, ``compose project P``, a request's keep_alive, or ``default``."""
    return {name: configuration.source_of(attribute) for name, attribute in SETTINGS.items()}


def configured_settings(configuration: ModelConfiguration) -> dict[str, dict[str, Any]]:
    """The settings that are not defaults, each with its value and where it came from (``ps``)."""
    values = configuration_json(configuration)
    return {
        name: {"value": values[name], "from": configuration.source_of(attribute)}
        for name, attribute in SETTINGS.items()
        if name in values
    }


def configuration_document(scheduler: Scheduler, reference: str) -> dict[str, Any] | None:
    """The configuration of the model ``reference`` names; None if there is no such model."""
    try:
        return configuration_json(scheduler.configuration(scheduler.find(reference)))
    except ModelNotFound:
        return None


def check_context_size(model: StoredModel, size: int | None, field: str) -> None:
    """400 naming ``field`` unless ``size`` is unset or within the context the model was trained with."""
    try:
        context_size.check_context_size(size, context_size.trained_context(model.config.get("gguf") or {}), field)
    except UserError as error:  # by hand: the answer names the request's field as OpenAI's ``param``
        raise ApiError(400, str(error), param=field) from None
