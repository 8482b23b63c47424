"""Which ``docker-model`` plugin Docker actually runs, asked of Docker itself.

Docker searches the config's ``cliPluginsExtraDirs`` before ``$DOCKER_CONFIG/cli-plugins`` and the system
directories (docker/cli, cli-plugins/manager/manager.go, ``getPluginDirs``), and runs the first
``docker-model`` it finds. Docker Desktop lists its app bundle there, so its own plugin can hide ours.
"""

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from compose_models.docker_host import docker_config_dir
from compose_models.errors import UserError


@dataclass(frozen=True)
class ResolvedPlugin:
    path: Path
    shadowed: list[Path]
    error: str | None  # why Docker will not run it (bad metadata, not executable), if it says so


def resolved_plugin(name: str = "model") -> ResolvedPlugin | None:
    """The ``docker-<name>`` that ``docker <name>`` runs (None: Docker finds none), from ``docker info``."""
    docker = shutil.which("docker")
    if docker is None:
        raise UserError("there is no `docker` command on PATH, so no Docker CLI can run the plugin")
    command = [docker, "info", "--format", "{{json .ClientInfo.Plugins}}"]
    try:
        # Client information needs no engine: this answers even when none is running.
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        plugins = json.loads(result.stdout.strip() or "null") or []
    except subprocess.TimeoutExpired:
        raise UserError("`docker info` did not answer in 60 s, so which plugin Docker runs is unknown") from None
    except ValueError:
        raise UserError(
            f"`{' '.join(command)}` did not print Docker's plugin list ({result.stderr.strip() or 'no output'})"
        ) from None
    for plugin in plugins:
        if plugin.get("Name") == name and plugin.get("Path"):
            error = plugin.get("Err")
            return ResolvedPlugin(
                Path(plugin["Path"]),
                [Path(path) for path in plugin.get("ShadowedPaths") or []],
                str(error) if error else None,
            )
    return None


def _same(first: Path, second: Path) -> bool:
    try:
        return first.samefile(second)
    except OSError:
        return first.absolute() == second.absolute()


def take_over_advice(resolved: ResolvedPlugin) -> str:
    """How to make Docker run ours instead of ``resolved``, never by writing into the other plugin's folder."""
    from compose_models.integrations.docker_config import read_config

    config = docker_config_dir() / "config.json"
    try:
        listed = any(_same(Path(entry).expanduser(), resolved.path.parent) for entry in read_config(config).extra_dirs)
    except UserError:
        listed = True  # an unreadable config.json: install will name the problem
    if not listed:
        return (
            f"run `compose-models install --take-over-docker-model`: it places compose-models' docker-model in "
            f"{docker_config_dir() / 'cli-plugins'}, which Docker searches before {resolved.path.parent}"
        )
    return (
        f"run `compose-models install --take-over-docker-model`: it lists a folder holding only compose-models' "
        f"docker-model first in cliPluginsExtraDirs of {config} and leaves "
        f"{resolved.path.parent} listed after it (so Compose and buildx still come from there)"
    )


def check_docker_runs(ours: Path) -> str:
    """What Docker runs for ``docker model`` when it is ``ours``; a UserError saying what it runs instead and how to fix it."""
    resolved = resolved_plugin()
    config = docker_config_dir() / "config.json"
    if resolved is None:
        raise UserError(
            f"Docker finds no docker-model plugin: {ours.parent} is not a directory Docker searches. "
            f"Install without --plugin-dir (into {docker_config_dir() / 'cli-plugins'}), "
            f"or add {ours.parent} to cliPluginsExtraDirs in {config}"
        )
    if _same(resolved.path, ours):
        if resolved.error:
            raise UserError(f"Docker finds {ours} but will not run it: {resolved.error}")
        return (
            "checked with `docker info`: Docker runs it, so `docker model`, Compose `models:` and "
            "`provider: {type: model}` now use compose-models"
        )
    if any(_same(path, ours) for path in resolved.shadowed):
        raise UserError(
            f"{ours} is hidden: `docker model` runs {resolved.path} instead, because Docker searches "
            f"{resolved.path.parent} first (cliPluginsExtraDirs in {config} come before {ours.parent}). "
            f"Fix: {take_over_advice(resolved)}"
        )
    raise UserError(
        f"`docker model` runs {resolved.path}, and {ours.parent} is not a directory Docker searches. "
        f"Fix: install without --plugin-dir, or {take_over_advice(resolved)}"
    )


def check_path_finds(ours: Path) -> str:
    """That a program looking up ``ours.name`` on PATH, as Compose does for a provider type, finds ``ours``."""
    found = shutil.which(ours.name)
    if found is not None and _same(Path(found), ours):
        return f"checked PATH: Compose runs {ours} for `provider: {{type: {ours.name}}}` services"
    if found is None:
        why = f"{ours.parent} is not on PATH. Fix: add it to PATH, or pass --provider-dir a directory on PATH"
    else:
        why = (f"PATH finds {found} first. Fix: put {ours.parent} before {Path(found).parent} on PATH, "
               f"or pass --provider-dir a directory that comes first")  # fmt: skip
    raise UserError(f"Compose will not run {ours}: {why}")
