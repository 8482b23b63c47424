"""Integration verbs: install and uninstall the ``docker model`` CLI plugin and the Compose provider entry."""

from pathlib import Path
from typing import Annotated, Optional

import typer

from compose_models import __version__
from compose_models.cli import app
from compose_models.integrations.install import PROVIDER, install_shim, refuse_app_bundle, uninstall_shim
from compose_models.integrations.plugin_install import TAKE_OVER, install_plugin, uninstall_plugin
from compose_models.integrations.resolution import check_docker_runs, check_path_finds

PluginDirOption = Annotated[
    Optional[Path], typer.Option("--plugin-dir", help="Docker CLI plugin directory (default $DOCKER_CONFIG/cli-plugins)")
]
ProviderDirOption = Annotated[
    Optional[Path],
    typer.Option("--provider-dir", help="Also place the Compose provider entry `compose-models` here (a directory on PATH)"),
]


@app.command()
def install(
    directory: PluginDirOption = None,
    provider_dir: ProviderDirOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace another docker-model plugin (or provider entry) in that directory")
    ] = False,
    take_over: Annotated[
        bool,
        typer.Option(
            TAKE_OVER,
            help="When Docker runs another docker-model first (Docker Desktop's), make `docker model` mean "
            "compose-models: list a folder of ours first in cliPluginsExtraDirs of config.json",
        ),
    ] = False,
) -> None:
    """Register compose-models as the `docker model` CLI plugin, so an unmodified `docker compose up` uses it.

    When Docker runs another docker-model (Docker Desktop ships one), refuses and explains unless given --take-over-docker-model.
    Never writes inside an application bundle. Fails, saying how to fix it, when Docker would not run ours.
    With --provider-dir, also places `compose-models` there for `provider: {type: compose-models}` services."""
    if provider_dir is not None:
        refuse_app_bundle(provider_dir, "--provider-dir")
    done, ours = install_plugin(directory, force, take_over)
    for line in done:
        typer.echo(line)
    typer.echo(check_docker_runs(ours))
    if provider_dir is not None:
        for line in install_shim(PROVIDER, provider_dir, force):
            typer.echo(line)
        typer.echo(check_path_finds(provider_dir / PROVIDER.name))


@app.command()
def uninstall(directory: PluginDirOption = None, provider_dir: ProviderDirOption = None) -> None:
    """Remove the `docker model` CLI plugin (and, with --provider-dir, the provider entry) that `install` placed.

    Gives Docker's config.json back as it was: byte for byte when nothing else changed it since, else with only our entry removed."""
    for line in uninstall_plugin(directory):
        typer.echo(line)
    if provider_dir is not None:
        for line in uninstall_shim(PROVIDER, provider_dir):
            typer.echo(line)


@app.command()
def version() -> None:
    """Print the client version and the plugin API version Docker sees."""
    from compose_models.cli.docker_plugin import PLUGIN_VERSION

    typer.echo(f"compose-models {__version__} (docker-model plugin API {PLUGIN_VERSION})")


@app.command(
    "compose",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
)
def compose_provider(ctx: typer.Context) -> None:
    """Compose provider protocol: compose --project-name=P (up|down|stop|metadata) [--option=value...] SERVICE."""
    from compose_models.integrations.provider import run_provider

    raise typer.Exit(run_provider(list(ctx.args)))
