"""The ``docker-model`` CLI plugin: Docker's plugin handshake in front of the ``compose-models`` verbs.

Docker runs ``docker-model docker-cli-plugin-metadata`` to discover the plugin, then
``docker-model model VERB ...`` for ``docker model VERB``; Compose runs ``docker-model VERB ...``
without the leading ``model``. Compose reads stdout and stderr of ``ls --json`` and
``status --json`` together, so those print clean JSON and nothing else.
"""

import contextlib
import io
import json
import os
import sys

from compose_models import __version__

# Compose forwards runtime_flags only to a plugin whose Version is purely numeric and >= 1.0.6.
PLUGIN_VERSION = "v1.0.6"


def metadata() -> dict[str, str]:
    return {
        "SchemaVersion": "0.1.0",
        "Vendor": "compose-models",
        "Version": PLUGIN_VERSION,
        "ShortDescription": f"Docker Model Runner compatible models on the host (compose-models {__version__})",
    }


def normalise_argv(argv: list[str]) -> list[str]:
    """Drop the plugin name Docker puts first when the user typed ``docker model ...``."""
    return argv[1:] if argv[:1] == ["model"] else argv


def familiar_names(tag: str) -> list[str]:
    """``docker.io/ai/smollm2:latest`` -> itself, ``ai/smollm2:latest``, ``ai/smollm2``, ``smollm2:latest``, ``smollm2``."""
    names = [tag]
    if tag.startswith("docker.io/"):
        short = tag.removeprefix("docker.io/")
        names.append(short)
        if short.startswith("ai/"):
            names.append(short.removeprefix("ai/"))
    names += [name.removesuffix(":latest") for name in names if name.endswith(":latest")]
    return list(dict.fromkeys(names))


def list_for_compose() -> str:
    """``ls --json`` with every spelling of each tag, because Compose compares its ``model:`` string literally."""
    from compose_models.store import ModelStore  # here: the plugin's other verbs need no store
    from compose_models.store.gojson import go_marshal_indent

    entries = []
    for model in ModelStore.default().models():
        entry = model.to_dmr_json()
        entry["tags"] = [name for tag in model.tags for name in familiar_names(tag)]
        entries.append(entry)
    return go_marshal_indent(entries, 4).decode()


def start_runner_quietly() -> None:
    """Compose asks ``status --json`` for the URL before it configures any model. As Docker Model Runner's
    standalone runner does, bring the runner up first, so the URL reported is one a container was seen to
    reach; its notes (a moved port) stay in the runner's log, off the JSON Compose parses."""
    from compose_models.runner.control import daemon
    from compose_models.runner.control.state import default_port

    with contextlib.redirect_stderr(io.StringIO()):
        daemon.ensure_running(default_port())


def configure_for_compose(args: list[str], project: str) -> None:
    """Compose's ``configure`` during ``docker compose up`` of ``project``: configure the model, load it
    before the services start, and keep it loaded while the project is up."""
    from compose_models.cli import quick_verbs
    from compose_models.cli.exit_codes import exit_with
    from compose_models.errors import UserError

    parsed = quick_verbs._parse_configure(args)
    if parsed is None:  # a spelling Compose does not use: the plain verb reports it
        from compose_models.cli import main as cli_main

        cli_main(["configure", *args])
        return
    try:
        quick_verbs.configure(*parsed, project=project)
    except UserError as error:
        exit_with(error)


def main() -> None:
    argv = normalise_argv(sys.argv[1:])
    if argv == ["docker-cli-plugin-metadata"]:
        print(json.dumps(metadata(), indent=5))
        return
    if argv[:1] in (["ls"], ["list"]) and "--json" in argv:
        print(list_for_compose())
        return
    if argv[:1] == ["status"] and "--json" in argv:
        start_runner_quietly()
    if argv[:1] == ["configure"] and os.environ.get("COMPOSE_PROJECT_NAME"):
        configure_for_compose(argv[1:], os.environ["COMPOSE_PROJECT_NAME"])
        return
    from compose_models.cli import main as cli_main

    cli_main(argv)


if __name__ == "__main__":
    main()
