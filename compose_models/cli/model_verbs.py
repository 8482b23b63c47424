"""Verbs: see compose_models/cli/__init__.py."""

from compose_models.cli import app  # noqa: F401
