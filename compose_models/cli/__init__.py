"""The ``compose-models`` command. One module per group of verbs; each registers on ``app``."""

import sys

import typer
from rich.console import Console

from compose_models.errors import UserError

app = typer.Typer(
    name="compose-models",
    help="Host-side LLM inference for Docker Compose stacks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

stderr = Console(stderr=True, highlight=False)


def _register_verbs() -> None:
    # Imported for their side effect of adding commands to ``app``.
    from compose_models.cli import (  # noqa: F401
        compose_verbs,
        config_verbs,
        model_verbs,
        runner_verbs,
    )


def main(argv: list[str] | None = None) -> None:
    _register_verbs()
    try:
        app(args=argv, prog_name="compose-models", standalone_mode=False)
    except UserError as error:
        stderr.print(f"compose-models: error: {error}", markup=False)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as error:  # click usage errors and the like
        import click

        if isinstance(error, click.ClickException):
            error.show()
            sys.exit(error.exit_code)
        if isinstance(error, click.exceptions.Abort):
            sys.exit(1)
        raise
