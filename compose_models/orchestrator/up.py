"""``compose-models up``: plan -> models present -> runner configured -> variables injected -> ``docker compose up``."""

from compose_models.compose import ProjectOptions
from compose_models.orchestrator.deploy import deploy
from compose_models.orchestrator.docker_compose import run_compose


def up(options: ProjectOptions, *, detach: bool, extra_args: list[str]) -> int:
    deployment = deploy(options)
    arguments = deployment.compose_arguments() + ["up"]
    if detach:
        arguments.append("-d")
    return run_compose(arguments + extra_args)
