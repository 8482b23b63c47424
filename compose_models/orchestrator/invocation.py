"""The ``docker compose`` command line that runs the project we loaded, with its model variables."""

from pathlib import Path

from compose_models.compose import ComposeProject, ProjectOptions
from compose_models.home import home_dir
from compose_models.orchestrator.docker_compose import supports_models
from compose_models.orchestrator.legacy_compose import files_without_models
from compose_models.orchestrator.override import render_override, write_override


def project_state_dir(project: ComposeProject) -> Path:
    return home_dir() / "projects" / project.name


def services_with_models(project: ComposeProject) -> list[str]:
    """Enabled services that declare ``models:`` (they get it reset in the override)."""
    return [name for name, service in project.services.items() if service.get("models")]


def compose_arguments(
    project: ComposeProject,
    options: ProjectOptions,
    environment: dict[str, dict[str, str]],
    *,
    host_gateway: bool = False,
) -> list[str]:
    """Global ``docker compose`` options selecting the same files, name, directory, env files and profiles.

    A Compose that knows ``models:`` gets the user's files plus an override resetting them; an older
    one gets copies of the files without them.
    """
    state = project_state_dir(project)
    if supports_models():
        files = list(project.config_files)
        override = render_override(services_with_models(project), environment, reset_models=True, host_gateway=host_gateway)
    else:
        files = files_without_models(project.config_files, state / "files")
        override = render_override([], environment, reset_models=False, host_gateway=host_gateway)
    arguments: list[str] = []
    for path in [*files, write_override(state, override)]:
        arguments += ["-f", str(path)]
    arguments += ["-p", project.name, "--project-directory", str(project.working_dir)]
    for env_file in options.env_files:
        arguments += ["--env-file", str(env_file)]
    for profile in options.profiles:
        arguments += ["--profile", profile]
    return arguments
