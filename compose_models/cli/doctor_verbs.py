"""``compose-models doctor``: a table of checks, each with what it found and the fix."""

import json
import sys
from typing import Annotated

import typer
from rich.console import Console

from compose_models.cli import app


@app.command()
def doctor(json_output: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """Check what a container needs to get an answer: the Docker engine, the runner's port and route,
    the docker-model plugin, the engine builds, GPU offload and memory, the store. Exits 1 on a failed check."""
    from compose_models.doctor import report
    from compose_models.doctor.checks import run_checks

    findings = run_checks()
    if json_output:
        typer.echo(json.dumps(report.as_json(findings), indent=2))
    else:
        report.print_table(findings, Console())
    if report.failed(findings):
        sys.exit(1)
