"""``compose-models down``: take the stack down with the same files ``up`` used."""

import sys

from compose_models.compose import ProjectOptions, load_project
from compose_models.orchestrator.docker_compose import run_compose
from compose_models.orchestrator.invocation import compose_arguments


def down(options: ProjectOptions, extra_args: list[str]) -> int:
    project = load_project(options)
    code = run_compose(compose_arguments(project, options, {}) + ["down", *extra_args])
    if code == 0:
        release_models(project.name)
    return code


def release_models(project: str) -> None:
    """The project's models are no longer kept loaded: they unload after their keep-alive."""
    from compose_models.runner.control import daemon
    from compose_models.runner.control.client import RunnerClient

    state = daemon.running_runner()
    if state is not None:
        released = RunnerClient(state).release(project)
        if released:
            print(f"released {len(released)} model(s) of project {project}", file=sys.stderr)
