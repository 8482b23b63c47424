"""Placing (and removing) the shims of ``providers/``: the ``docker-model`` CLI plugin Docker runs and the
``compose-models`` entry Compose runs for provider services.

The shims are templates; placing one writes in the interpreter that runs us now, so it finds this
installation whatever PATH Docker or Compose has.
"""

import os
import shlex
import sys
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import compose_models
from compose_models.errors import UserError


@dataclass(frozen=True)
class Shim:
    name: str  # its file name in providers/, and where it is placed
    marker: str  # a line in it that tells our copy from someone else's
    kind: str  # how messages name it: "the docker-model <kind>"
    what: str  # how messages name it in full
    usual_other: str  # who else may have placed a file of that name


PLUGIN = Shim(
    "docker-model",
    "compose-models docker-model plugin",
    "plugin",
    "docker-model CLI plugin",
    "Docker's own? Replacing it makes `docker model` mean compose-models, not Docker's Model Runner",
)
PROVIDER = Shim(
    "compose-models", "compose-models provider entry", "entry", "compose-models provider entry", "pip's console script?"
)
PLUGIN_NAME = PLUGIN.name
INTERPRETER = "@PYTHON@"


def plugin_dir(explicit: Path | None = None) -> Path:
    """``--plugin-dir``, else ``$DOCKER_CONFIG/cli-plugins``, else ``~/.docker/cli-plugins`` (Docker's own order)."""
    if explicit is not None:
        return explicit
    config = os.environ.get("DOCKER_CONFIG")
    return (Path(config) if config else Path.home() / ".docker") / "cli-plugins"


def inside_app_bundle(path: Path) -> Path | None:
    """The application bundle (``*.app``) that ``path`` is in, as given or with symlinks resolved; None: none."""
    for candidate in (path.absolute(), path.resolve()):
        for parent in (candidate, *candidate.parents):
            if parent.name.lower().endswith(".app"):
                return parent
    return None


def refuse_app_bundle(directory: Path, option: str) -> None:
    """Never write inside an application bundle: macOS blocks it (App Management), and updates undo it."""
    bundle = inside_app_bundle(directory)
    if bundle is not None:
        raise UserError(
            f"{option} {directory} is inside the application bundle {bundle}; compose-models never writes there "
            "(macOS App Management blocks it and the application's updates undo it). To make `docker model` "
            "run compose-models while Docker Desktop's plugins stay in place, run "
            "`compose-models install --take-over-docker-model` without --plugin-dir"
        )


def is_ours(path: Path, shim: Shim = PLUGIN) -> bool:
    try:
        return shim.marker in path.read_text(errors="replace")[:512]
    except (OSError, UnicodeDecodeError):
        return False


def _template_candidates(name: str) -> list[Path]:
    # A checkout (also an editable install): providers/ beside the package. A wheel: pyproject's
    # data-files put them in <prefix>/share/compose-models/providers, wherever that prefix is.
    candidates = [Path(compose_models.__file__).resolve().parent.parent / "providers" / name]
    try:
        files = distribution("compose-models").files or []
    except PackageNotFoundError:
        files = []
    candidates += [
        Path(str(file.locate())).resolve() for file in files if file.name == name and file.parent.name == "providers"
    ]
    return candidates


def _template(shim: Shim) -> Path:
    candidates = _template_candidates(shim.name)
    for path in candidates:
        if is_ours(path, shim):
            return path
    raise UserError(
        f"this installation of compose-models lacks its {shim.name} shim (looked in "
        f"{', '.join(str(path.parent) for path in candidates)}); reinstall compose-models"
    )


def install_shim(shim: Shim, directory: Path, force: bool = False) -> list[str]:
    """Place the shim in ``directory``; returns what was done, one line per action."""
    refuse_app_bundle(directory, "the directory")
    target = directory / shim.name
    template = _template(shim)
    if target.resolve() == template.resolve():
        raise UserError(f"{directory} holds compose-models' own templates; place the {shim.what} in another directory")
    done = []
    if target.exists() or target.is_symlink():
        if not is_ours(target, shim) and not force:
            raise UserError(f"{target} is another {shim.name} {shim.kind} ({shim.usual_other}); pass --force to replace it")
        done.append(f"replaced {'our previous' if is_ours(target, shim) else 'the existing'} {shim.kind} at {target}")
        target.unlink()
    directory.mkdir(parents=True, exist_ok=True)
    target.write_text(template.read_text().replace(INTERPRETER, shlex.quote(sys.executable)))
    target.chmod(0o755)
    done.append(f"installed the {shim.what} at {target}")
    return done


def uninstall_shim(shim: Shim, directory: Path) -> list[str]:
    target = directory / shim.name
    if not target.exists():
        return [f"no {shim.name} {shim.kind} at {target}; nothing to do"]
    if not is_ours(target, shim):
        raise UserError(f"{target} was not installed by compose-models; leaving it in place")
    target.unlink()
    return [f"removed the {shim.what} from {target}"]

