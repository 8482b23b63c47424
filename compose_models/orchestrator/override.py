"""The Compose override file that hands each bound service its model variables.

It also clears ``models:`` (with Compose's ``!reset`` tag) so that a plain Compose, without a
``docker model`` plugin, accepts the project: the models are served by our runner instead.
"""

import json
from pathlib import Path

HOST_GATEWAY_ENTRY = "host.docker.internal:host-gateway"


def service_environment(plan, endpoint: str) -> dict[str, dict[str, str]]:
    """Per bound service, the variables Compose itself would inject (same names, same values)."""
    environment: dict[str, dict[str, str]] = {}
    for service, binding in plan.services.items():
        variables = environment.setdefault(service, {})
        for key, names in binding.models.items():
            variables[names.endpoint_var] = endpoint
            variables[names.model_var] = plan.models[key].model
    return environment


def render_override(
    services_with_models: list[str],
    environment: dict[str, dict[str, str]],
    *,
    reset_models: bool,
    host_gateway: bool = False,
) -> str:
    """With ``reset_models`` the top-level ``models`` and those of ``services_with_models`` are cleared."""
    lines = ["# Written by compose-models: model variables for bound services.", "services:"]
    if reset_models:
        lines.insert(1, "models: !reset {}")
    for service in sorted(set(services_with_models) | set(environment)):
        lines.append(f"  {json.dumps(service)}:")
        if service in services_with_models:
            lines.append("    models: !reset {}")
        if service in environment:
            lines.append(f"    environment: {json.dumps(environment[service])}")
            if host_gateway:
                lines.append(f"    extra_hosts: [{json.dumps(HOST_GATEWAY_ENTRY)}]")
    if lines[-1] == "services:":
        lines[-1] = "services: {}"
    return "\n".join(lines) + "\n"


def write_override(directory: Path, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "compose.models.override.yaml"
    path.write_text(text)
    return path
