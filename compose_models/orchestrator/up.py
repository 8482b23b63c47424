"""``compose-models up``: plan -> models present -> runner configured -> variables injected -> ``docker compose up``."""

import sys

from compose_models.compose import ComposeProject, ProjectOptions
from compose_models.orchestrator.deploy import deploy
from compose_models.orchestrator.docker_compose import run_compose


def _warn_about_plugin(project: ComposeProject) -> None:
    """Say so when Docker runs another docker-model plugin than ours and that matters (``plugin_warning``)."""
    from compose_models.integrations.plugin_install import plugin_warning

    provider_services = [
        name
        for name, service in project.services.items()
        if isinstance(service.get("provider"), dict) and service["provider"].get("type") == "model"
    ]
    warning = plugin_warning(provider_services)
    if warning is not None:
        print(warning, file=sys.stderr)


def up(options: ProjectOptions, *, detach: bool, extra_args: list[str]) -> int:
    deployment = deploy(options)
    _warn_about_plugin(deployment.project)
    arguments = deployment.compose_arguments() + ["up"]
    if detach:
        arguments.append("-d")
    return run_compose(arguments + extra_args)
