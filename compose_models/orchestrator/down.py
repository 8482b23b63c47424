"""``compose-models down``: take the stack down with the same files ``up`` used."""

from compose_models.compose import ProjectOptions, load_project
from compose_models.orchestrator.docker_compose import run_compose
from compose_models.orchestrator.invocation import compose_arguments


def down(options: ProjectOptions, extra_args: list[str]) -> int:
    project = load_project(options)
    return run_compose(compose_arguments(project, options, {}) + ["down", *extra_args])
