"""Compose verbs: up, watch and down, taking Compose's own project options (defined in config_verbs)."""

from typing import Annotated

import typer

from compose_models.cli import app
from compose_models.cli.config_verbs import (
    EnvFileOption,
    FilesOption,
    ProfileOption,
    ProjectDirectoryOption,
    ProjectNameOption,
    project_options,
)

_PASSTHROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}


@app.command(context_settings=_PASSTHROUGH)
def up(
    ctx: typer.Context,
    files: FilesOption = None,
    project_name: ProjectNameOption = None,
    project_directory: ProjectDirectoryOption = None,
    env_files: EnvFileOption = None,
    profiles: ProfileOption = None,
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Run containers in the background")] = False,
    watch_files: Annotated[bool, typer.Option("--watch", help="Start detached, then follow edits (see `watch`)")] = False,
) -> None:
    """Serve the project's models on the host runner, inject their variables, and run `docker compose up`.

    Arguments after `--` go to `docker compose up`.
    """
    options = project_options(files, project_name, project_directory, env_files, profiles)
    if watch_files:
        from compose_models.orchestrator.watch import watch as run_watch

        raise typer.Exit(run_watch(options, list(ctx.args)))
    from compose_models.orchestrator.deploy import up as run_up

    raise typer.Exit(run_up(options, detach=detach, extra_args=list(ctx.args)))


@app.command(context_settings=_PASSTHROUGH)
def watch(
    ctx: typer.Context,
    files: FilesOption = None,
    project_name: ProjectNameOption = None,
    project_directory: ProjectDirectoryOption = None,
    env_files: EnvFileOption = None,
    profiles: ProfileOption = None,
) -> None:
    """Bring the stack up detached, then follow edits to its compose files and .env until interrupted.

    Changed models are reconfigured and reloaded, new ones pulled, dropped ones unloaded, and services
    whose variables changed are recreated. An invalid edit is reported and the stack is left as it was.
    """
    ctx.invoke(up, ctx, files, project_name, project_directory, env_files, profiles, watch_files=True)


@app.command(context_settings=_PASSTHROUGH)
def down(
    ctx: typer.Context,
    files: FilesOption = None,
    project_name: ProjectNameOption = None,
    project_directory: ProjectDirectoryOption = None,
    env_files: EnvFileOption = None,
    profiles: ProfileOption = None,
) -> None:
    """Run `docker compose down` on the project (the runner keeps serving other projects)."""
    from compose_models.orchestrator.deploy import down as run_down

    options = project_options(files, project_name, project_directory, env_files, profiles)
    raise typer.Exit(run_down(options, extra_args=list(ctx.args)))
