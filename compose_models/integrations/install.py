"""Registering (and removing) the ``docker-model`` CLI plugin in Docker's plugin directory."""

import os
import shlex
import sys
from pathlib import Path

from compose_models.errors import UserError

PLUGIN_NAME = "docker-model"
PLUGIN_MARKER = "compose-models docker-model plugin"


def plugin_dir(explicit: Path | None = None) -> Path:
    """``--plugin-dir``, else ``$DOCKER_CONFIG/cli-plugins``, else ``~/.docker/cli-plugins`` (Docker's own order)."""
    if explicit is not None:
        return explicit
    config = os.environ.get("DOCKER_CONFIG")
    return (Path(config) if config else Path.home() / ".docker") / "cli-plugins"


def is_ours(path: Path) -> bool:
    try:
        return PLUGIN_MARKER in path.read_text(errors="replace")[:512]
    except (OSError, UnicodeDecodeError):
        return False


def plugin_script() -> str:
    # The interpreter that runs us now, so the plugin finds this installation whatever PATH Docker has.
    return f'#!/bin/sh\n# {PLUGIN_MARKER}\nexec {shlex.quote(sys.executable)} -m compose_models.cli.docker_plugin "$@"\n'


def install_plugin(directory: Path, force: bool = False) -> list[str]:
    """Write the plugin; returns what was done, one line per action."""
    target = directory / PLUGIN_NAME
    done = []
    if target.exists() or target.is_symlink():
        if not is_ours(target) and not force:
            raise UserError(
                f"{target} is another docker-model plugin (Docker's own?); pass --force to replace it"
            )
        done.append(f"replaced {'our previous' if is_ours(target) else 'the existing'} plugin at {target}")
        target.unlink()
    directory.mkdir(parents=True, exist_ok=True)
    target.write_text(plugin_script())
    target.chmod(0o755)
    done.append(f"installed the docker-model CLI plugin at {target}")
    return done


def uninstall_plugin(directory: Path) -> list[str]:
    target = directory / PLUGIN_NAME
    if not target.exists():
        return [f"no docker-model plugin at {target}; nothing to do"]
    if not is_ours(target):
        raise UserError(f"{target} was not installed by compose-models; leaving it in place")
    target.unlink()
    return [f"removed the docker-model CLI plugin from {target}"]
