"""Installing the ``docker-model`` plugin so that Docker runs it, and taking over ``docker model`` only when asked.

Where the plugin goes: ``--plugin-dir``, else ``$DOCKER_CONFIG/cli-plugins``. When Docker runs another
``docker-model`` that it finds first (Docker Desktop's, in its app bundle, listed in ``cliPluginsExtraDirs``;
Docker's own in a system folder), ours wins only with ``--take-over-docker-model``: then it goes into a
folder of its own listed first in ``cliPluginsExtraDirs`` (``docker_config``) when the other one is in a
listed folder, and the other plugin's folder, app bundle or not, is never written to.
"""

import os
from pathlib import Path

from compose_models.errors import UserError
from compose_models.integrations.docker_config import KEY, config_file, put_first, read_config, take_out, takeover_dir
from compose_models.integrations.install import PLUGIN, install_shim, is_ours, plugin_dir, refuse_app_bundle, uninstall_shim
from compose_models.integrations.resolution import ResolvedPlugin, resolved_plugin

TAKE_OVER = "--take-over-docker-model"


def _listed(folder: Path, dirs: list[str]) -> bool:
    return any(os.path.normpath(os.path.expanduser(entry)) == os.path.normpath(folder) for entry in dirs)


def _meaning(other: Path, when: str = "then") -> str:
    return (
        f"`docker model`, Compose `models:` and `provider: {{type: model}}` services {when} run compose-models, "
        f"not {other} (Docker's Model Runner plugin, or whoever placed it)"
    )


def _refusal(other: ResolvedPlugin, extra_dirs: list[str]) -> str:
    config = config_file()
    if _listed(other.path.parent, extra_dirs):
        how = (
            f"compose-models can list a folder holding only its own docker-model ({takeover_dir()}) first in "
            f"{KEY} of {config}; {other.path.parent} stays listed after it, so its other plugins (Compose, buildx) "
            f"still resolve, and nothing inside it is changed"
        )
    else:
        how = f"compose-models can place its plugin in {plugin_dir()}, which Docker searches before {other.path.parent}"
    return (
        f"Docker runs {other.path} for `docker model`, not compose-models. {how}. {_meaning(other.path)}. "
        f"To do that, run `compose-models install {TAKE_OVER}` (`compose-models uninstall` undoes it); "
        f"or use `compose-models up`, which needs no plugin"
    )


def install_plugin(explicit: Path | None, force: bool, take_over: bool) -> tuple[list[str], Path]:
    """Place the plugin where Docker will run it; what was done, and the file Docker should now run."""
    if explicit is not None:
        refuse_app_bundle(explicit, "--plugin-dir")
        if take_over:
            raise UserError(
                f"{TAKE_OVER} places the plugin in its own folder ({takeover_dir()}) and lists that first in "
                f"{KEY}; leave out --plugin-dir"
            )
    target = plugin_dir(explicit)
    extra_dirs = read_config().extra_dirs  # refuses an unreadable config.json before anything changes
    current = resolved_plugin()
    other = current if current is not None and not is_ours(current.path) else None
    if current is not None and explicit is None and is_ours(current.path) and current.path.parent == takeover_dir():
        target = takeover_dir()  # already taken over: refresh our plugin where Docker runs it
    if other is not None and other.path.parent.absolute() != target.absolute():
        if not take_over:
            raise UserError(_refusal(other, extra_dirs))
        if explicit is None and _listed(other.path.parent, extra_dirs):
            target = takeover_dir()
    done = install_shim(PLUGIN, target, force)
    if target == takeover_dir():
        done += put_first(target)
    if other is not None:
        done.append(f"{_meaning(other.path, 'now')}; {other.path} itself is left in place")
    return done, target / PLUGIN.name


def uninstall_plugin(explicit: Path | None) -> list[str]:
    """Remove what ``install_plugin`` placed, and give ``config.json`` back as it was."""
    if explicit is not None:
        return uninstall_shim(PLUGIN, explicit)
    done = take_out(takeover_dir())
    taken_over = takeover_dir() / PLUGIN.name
    if taken_over.exists() or taken_over.is_symlink():
        done += uninstall_shim(PLUGIN, takeover_dir())
        try:
            takeover_dir().rmdir()
        except OSError:
            pass  # not empty: someone else's files, left in place
    default = plugin_dir() / PLUGIN.name
    exists = default.exists() or default.is_symlink()
    if not done or (exists and is_ours(default)):
        done += uninstall_shim(PLUGIN, plugin_dir())  # refuses another's plugin; says when there is nothing to do
    elif exists:
        done.append(f"{default} was not installed by compose-models; left it in place")
    return done


def installed_copies() -> list[Path]:
    """Our plugin where ``install`` places it: the take-over folder, ``$DOCKER_CONFIG/cli-plugins``."""
    return [path for path in (takeover_dir() / PLUGIN.name, plugin_dir() / PLUGIN.name) if is_ours(path)]


def plugin_warning(provider_services: list[str]) -> str | None:
    """For ``up``: a warning when the plugin matters and Docker does not run ours, else None.

    ``up`` serves ``models:`` itself, but Compose runs the docker-model plugin Docker resolves for
    ``provider: {type: model}`` services; and a user who installed ours expects an unmodified
    ``docker compose up`` to use it, which Docker Desktop undoes when it rewrites config.json. Otherwise
    nothing is asked of Docker."""
    installed = installed_copies()
    if not installed and not provider_services:
        return None
    try:
        resolved = resolved_plugin()
    except UserError:
        return None  # no Docker CLI: `docker compose up` itself will say so
    if resolved is not None and is_ours(resolved.path) and not resolved.error:
        return None
    found = "Docker finds no docker-model plugin" if resolved is None else f"`docker model` runs {resolved.path}"
    if resolved is not None and is_ours(resolved.path):
        found = f"Docker will not run compose-models' docker-model plugin at {resolved.path}: {resolved.error}"
    elif installed:
        found += f", not compose-models' plugin at {', '.join(map(str, installed))}"
    effect = (
        f"the services with provider: {{type: model}} ({', '.join(provider_services)}) will not be served by compose-models"
        if provider_services
        else "`docker model` and an unmodified `docker compose up` do not use compose-models (this `up` is unaffected)"
    )
    if resolved is None or is_ours(resolved.path):
        fix = "run `compose-models install`"
    else:
        fix = "run `compose-models install --take-over-docker-model` to put ours first again"
    return f"warning: {found}; {effect}. To fix it, {fix}"
