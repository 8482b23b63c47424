"""``compose-models down``: take the stack down with the same files and override ``up`` used."""

from compose_models.compose import ProjectOptions, load_project
from compose_models.orchestrator.docker_compose import run_compose
from compose_models.orchestrator.override import render_override, write_override
from compose_models.orchestrator.project_args import compose_project_args, project_state_dir, services_with_models


def down(options: ProjectOptions, extra_args: list[str]) -> int:
    project = load_project(options)
    override = write_override(project_state_dir(project), render_override(services_with_models(project), {}))
    return run_compose(compose_project_args(project, options, override) + ["down"] + extra_args)

