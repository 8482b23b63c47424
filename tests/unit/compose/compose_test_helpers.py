"""Helpers for Compose-loading tests: write a small project into a temp dir and load it."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from compose_models.compose import Plan, ProjectOptions, load_project, resolve_plan

WriteProject = Callable[..., Path]


def write_files(root: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


@pytest.fixture
def write_project(tmp_path: Path) -> WriteProject:
    """``write_project({"compose.yaml": "..."}, dir="proj")`` -> the project directory."""

    def write(files: Mapping[str, str], dir: str = "proj") -> Path:
        return write_files(tmp_path / dir, files)

    return write


def plan_of(cwd: Path, environ: Mapping[str, str] | None = None, **options) -> dict:
    project = load_project(ProjectOptions(cwd=cwd, environ=dict(environ or {}), **options))
    plan: Plan = resolve_plan(project)
    return plan.model_dump(mode="json")
