"""``compose-models init``: write a team stack template into a folder, ready for ``compose-models up``."""

from pathlib import Path
from typing import Annotated

import typer

from compose_models.cli import app


@app.command()
def init(
    template: Annotated[str | None, typer.Argument(help="The template: chat, rag, agent, gateway, provider")] = None,
    directory: Annotated[Path | None, typer.Argument(help="Where to write the stack (default: ./TEMPLATE)")] = None,
    model: Annotated[list[str] | None, typer.Option("--model", help="SLOT=REF: the model for one of the "
                                                    "template's model slots (repeatable)")] = None,  # fmt: skip
    list_templates: Annotated[bool, typer.Option("--list", help="List the templates and their model slots")] = False,
) -> None:
    """Write a stack that runs as it is: compose.yaml with models:, the application's source and
    Dockerfile, and a README. Never overwrites a file."""
    from compose_models.errors import UserError
    from compose_models.templates import scaffold

    if list_templates:
        for found in scaffold.templates():
            slots = ", ".join(f"{slot}={reference}" for slot, reference in found.model_slots().items())
            typer.echo(f"{found.name:<10} {found.description}  [models: {slots}]")
        return
    if template is None:
        raise UserError("init: name a template (compose-models init --list shows them)")
    chosen = scaffold.find(template)
    destination = directory if directory is not None else Path(template)
    written = scaffold.write_stack(chosen, destination, scaffold.parse_model_choices(model or [], chosen))
    typer.echo(f"wrote the {template} stack to {destination} ({len(written.paths)} files). Run it:")
    typer.echo(f"  cd {destination} && compose-models up")
    typer.echo("  (or `docker compose up`, once `compose-models install` has registered the docker-model plugin)")
    if written.keys:
        typer.echo("Its API keys, made at random for this stack (kept in api-keys and .env, which .gitignore lists):")
        for name, key in written.keys.items():
            typer.echo(f"  {name}: {key}")
