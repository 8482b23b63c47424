"""The key each bound service gets beside its URL while the runner has keys or limits on, so the runner
knows the service by the key it presents, even on a VM engine where every container has the same address.

Each service gets ``OPENAI_API_KEY`` (what the openai SDK and most OpenAI-style clients read) and, per
model binding, a variable named after its URL variable: ``LLM_URL`` -> ``LLM_API_KEY``,
``OPENAI_BASE_URL`` -> ``OPENAI_API_KEY``, any other ``NAME`` -> ``NAME_API_KEY``. A variable the service
sets itself in ``environment:`` is left alone.
"""

from typing import Any

from compose_models.compose import ComposeProject, Plan
from compose_models.gateway.service_keys import ServiceKeys

OPENAI_KEY_VARIABLE = "OPENAI_API_KEY"


def key_variable(endpoint_var: str) -> str:
    for suffix in ("_BASE_URL", "_URL"):
        if endpoint_var.endswith(suffix):
            return endpoint_var.removesuffix(suffix) + "_API_KEY"
    return f"{endpoint_var}_API_KEY"


def _own_variables(service: dict[str, Any]) -> set[str]:
    environment = service.get("environment") or {}
    if isinstance(environment, dict):
        return set(environment)
    return {str(entry).split("=", 1)[0] for entry in environment}


def caller_key_environment(plan: Plan, project: ComposeProject, keys: ServiceKeys) -> dict[str, dict[str, str]]:
    """Per bound service, its key under each variable it should be found in."""
    environment: dict[str, dict[str, str]] = {}
    for service, planned in plan.services.items():
        key = keys.issue(project.name, service)
        names = {OPENAI_KEY_VARIABLE, *(key_variable(names.endpoint_var) for names in planned.models.values())}
        own = _own_variables(project.services.get(service, {}))
        environment[service] = {name: key for name in sorted(names) if name not in own}
    return environment
