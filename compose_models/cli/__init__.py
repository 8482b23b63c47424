"""The ``compose-models`` command. One module per group of verbs; each registers on ``app``.

The calls Compose makes on every ``up`` are answered by quick_verbs without typer. Any other call
imports only the module of the verb it names, so ``pull`` does not pay for the catalog, the backends or
the gateway; ``--help``, no verb or an unknown one import them all. ``app``, the typer app the verb
modules register on, is built on first use (``from compose_models.cli import app``).
"""

import functools
import importlib
import sys
from typing import TYPE_CHECKING

from compose_models.errors import UserError

if TYPE_CHECKING:
    import typer


# In the order ``--help`` lists them: catalog_verbs imports model_verbs, compose_verbs config_verbs.
VERB_MODULES = ("backend_verbs", "bench_verbs", "catalog_verbs", "compose_verbs", "config_verbs", "doctor_verbs",
                "gateway_verbs", "integration_verbs", "launch_verbs", "model_verbs", "runner_verbs", "session_verbs",
                "template_verbs")  # fmt: skip

# Which module defines each verb; tests/unit/cli checks it against what the modules register. A verb
# missing here still works, at the cost of importing every module.
VERB_MODULE = {
    "install-runner": "backend_verbs",
    "bench": "bench_verbs",
    **dict.fromkeys(("pull", "push", "package", "ls", "inspect", "tag", "rm", "df"), "model_verbs"),
    "config": "config_verbs",
    **dict.fromkeys(("up", "watch", "down"), "compose_verbs"),
    "doctor": "doctor_verbs",
    "gateway": "gateway_verbs",
    **dict.fromkeys(("install", "uninstall", "version", "compose"), "integration_verbs"),
    **dict.fromkeys(("serve", "stop", "status", "ps", "unload", "configure", "dashboard"), "runner_verbs"),
    **dict.fromkeys(("run", "logs"), "session_verbs"),
    "catalog": "catalog_verbs",
    "init": "template_verbs",
    "launch": "launch_verbs",
}


@functools.cache
def typer_app() -> "typer.Typer":
    import typer

    app = typer.Typer(
        name="compose-models",
        help="Host-side LLM inference for Docker Compose stacks.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    @app.callback()
    def _group() -> None:
        # Keeps ``app`` a group of verbs when only one module has registered, and that module one verb.
        pass

    return app


def __getattr__(name: str) -> "typer.Typer":
    if name == "app":
        return typer_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _register_verbs(verb: str | None = None) -> None:
    """Import the verb modules, each adding its commands to ``app``: the one defining ``verb``, else all."""
    for name in [VERB_MODULE[verb]] if verb in VERB_MODULE else VERB_MODULES:
        importlib.import_module(f"compose_models.cli.{name}")


def main(argv: list[str] | None = None) -> None:
    from compose_models.cli.quick_verbs import answer

    args = sys.argv[1:] if argv is None else argv
    try:
        status = answer(args)
        if status is None:
            _register_verbs(args[0] if args else None)
            typer_app()(args=argv, prog_name="compose-models")
    except UserError as error:
        from compose_models.cli.exit_codes import exit_with

        exit_with(error)
    if status:
        sys.exit(status)
