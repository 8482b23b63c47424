"""The resolved plan: which models to serve and which variables each enabled service receives."""

from __future__ import annotations

from pydantic import BaseModel, Field

from compose_models.compose.project import ComposeProject


class PlannedModel(BaseModel):
    model: str
    context_size: int | None = None
    runtime_flags: list[str] = []
    # The runner's upstream serving it (x-upstream); then ``model`` is its name there. Not in `config`'s output.
    upstream: str | None = Field(None, exclude=True)
    keep_alive: str | None = Field(None, exclude=True)  # x-keep-alive, checked; not in `config`'s output


class VariableNames(BaseModel):
    endpoint_var: str
    model_var: str


class PlannedService(BaseModel):
    models: dict[str, VariableNames]


class Plan(BaseModel):
    name: str
    models: dict[str, PlannedModel]
    services: dict[str, PlannedService]


def variable_prefix(model_key: str) -> str:
    """Compose's rule: upper-case the key and turn ``-`` into ``_`` (``.`` stays: ``llama3.2`` -> ``LLAMA3.2``)."""
    return model_key.upper().replace("-", "_")


def resolve_plan(project: ComposeProject) -> Plan:
    """The models that enabled services use, and the variables each of those services receives.

    Like Docker Compose v2.40, models that no enabled service refers to are left out: a service in an
    inactive profile gets nothing, and its models are not served.
    """
    services = {}
    for service, bindings in project.service_models.items():
        if not bindings:
            continue
        services[service] = PlannedService(
            models={
                key: VariableNames(
                    endpoint_var=binding.endpoint_var or f"{variable_prefix(key)}_URL",
                    model_var=binding.model_var or f"{variable_prefix(key)}_MODEL",
                )
                for key, binding in bindings.items()
            }
        )
    used = {key for bindings in project.service_models.values() for key in bindings}
    models = {
        key: PlannedModel(
            model=definition.model,
            # Compose cannot tell 0 from unset (and only passes sizes > 0 to the runner).
            context_size=definition.context_size or None,
            runtime_flags=list(definition.runtime_flags),
        )
        for key, definition in project.models.items()
        if key in used
    }
    return Plan(name=project.name, models=models, services=services)
