"""The ``compose-models`` command. One module per group of verbs; each registers on ``app``."""

import sys

import typer

from compose_models.errors import UserError

app = typer.Typer(
    name="compose-models",
    help="Host-side LLM inference for Docker Compose stacks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

def _register_verbs() -> None:
    # Imported for their side effect of adding commands to ``app``.
    from compose_models.cli import (  # noqa: F401
        backend_verbs,
        catalog_verbs,
        compose_verbs,
        config_verbs,
        doctor_verbs,
        gateway_verbs,
        integration_verbs,
        model_verbs,
        runner_verbs,
        session_verbs,
    )


def main(argv: list[str] | None = None) -> None:
    _register_verbs()
    try:
        app(args=argv, prog_name="compose-models")
    except UserError as error:
        print(f"compose-models: error: {error}", file=sys.stderr)
        sys.exit(error.exit_code)
