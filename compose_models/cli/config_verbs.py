"""``compose-models config``: load the Compose project and print the resolved plan.

The project options (``-f``, ``-p``, ``--project-directory``, ``--env-file``, ``--profile``) are
defined here as reusable annotated types, so every Compose verb takes them the same way.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from ruamel.yaml import YAML

from compose_models.cli import app
from compose_models.compose import ProjectOptions, load_project, resolve_plan

FilesOption = Annotated[
    Optional[list[str]], typer.Option("-f", "--file", help="Compose configuration file (repeatable, '-' = stdin).")
]
ProjectNameOption = Annotated[Optional[str], typer.Option("-p", "--project-name", help="Project name.")]
ProjectDirectoryOption = Annotated[
    Optional[str], typer.Option("--project-directory", help="Alternate working directory (default: first file's).")
]
EnvFileOption = Annotated[Optional[list[str]], typer.Option("--env-file", help="Environment file (repeatable).")]
ProfileOption = Annotated[Optional[list[str]], typer.Option("--profile", help="Profile to enable (repeatable).")]


def project_options(
    files: list[str] | None,
    project_name: str | None,
    project_directory: str | None,
    env_files: list[str] | None,
    profiles: list[str] | None,
) -> ProjectOptions:
    """The loader's options from the Compose command-line options above."""
    return ProjectOptions(
        files=files or [],
        project_name=project_name,
        project_directory=project_directory,
        env_files=env_files or [],
        profiles=profiles or [],
        cwd=Path.cwd(),
    )


class OutputFormat(str, Enum):
    yaml = "yaml"
    json = "json"


@app.command()
def config(
    file: FilesOption = None,
    project_name: ProjectNameOption = None,
    project_directory: ProjectDirectoryOption = None,
    env_file: EnvFileOption = None,
    profile: ProfileOption = None,
    output_format: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = OutputFormat.yaml,
    services: Annotated[bool, typer.Option("--services", help="Print the enabled service names, one per line.")] = False,
    models: Annotated[bool, typer.Option("--models", help="Print the references of the models in use, one per line.")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Only validate the configuration.")] = False,
) -> None:
    """Validate the Compose project and print its plan: models and the variables each service gets."""
    project = load_project(project_options(file, project_name, project_directory, env_file, profile))
    if quiet:
        return
    if services:
        _print_lines(project.services)
        return
    plan = resolve_plan(project).model_dump(mode="json")
    if models:
        _print_lines(definition["model"] for definition in plan["models"].values())
        return
    if output_format is OutputFormat.json:
        print(json.dumps(plan, indent=2))
    else:
        _dump_yaml(plan)


def _print_lines(lines: object) -> None:
    for line in lines:  # type: ignore[attr-defined]
        print(line)


def _dump_yaml(data: dict) -> None:
    yaml = YAML(typ="rt")
    yaml.default_flow_style = False
    yaml.representer.add_representer(
        type(None), lambda representer, _: representer.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    yaml.dump(data, sys.stdout)
