"""The Compose command-line options that select the same project we loaded."""

from pathlib import Path

from compose_models.home import home_dir


def compose_project_args(project, options, override: Path | None = None) -> list[str]:
    arguments: list[str] = []
    for path in project.config_files:
        arguments += ["-f", str(path)]
    if override is not None:
        arguments += ["-f", str(override)]
    arguments += ["-p", project.name, "--project-directory", str(project.working_dir)]
    for env_file in options.env_files:
        arguments += ["--env-file", str(env_file)]
    for profile in options.profiles:
        arguments += ["--profile", profile]
    return arguments


def project_state_dir(project) -> Path:
    return home_dir() / "projects" / project.name


def services_with_models(project) -> list[str]:
    """Enabled services that declare ``models:`` (they get it reset in the override)."""
    return [name for name, service in project.services.items() if service.get("models")]
