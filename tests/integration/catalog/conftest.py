"""A catalog of its own for each test: an organisation on the session's real registry, and its policy."""

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

# Debian's docker-registry on loopback: anonymous, and one that wants tester / s3cret.
from tests.integration.store.conftest import auth_registry, registry  # noqa: F401


@dataclass(frozen=True)
class Catalog:
    org: str  # registry/namespace
    directory: Path  # holds catalog.yaml; the tests' current directory


def new_catalog(registry: str, directory: Path) -> Catalog:
    """An organisation no other test uses on ``registry``, and its catalog.yaml in ``directory``."""
    org = f"{registry}/team-{uuid.uuid4().hex[:8]}"
    directory.mkdir()
    (directory / "catalog.yaml").write_text(f"org: {org}\nmax_size: 1GiB\n")
    return Catalog(org, directory)


@pytest.fixture
def catalog(registry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Catalog:
    created = new_catalog(registry, tmp_path / "catalog")
    monkeypatch.chdir(created.directory)
    return created


@pytest.fixture
def license_file(tmp_path: Path) -> Path:
    path = tmp_path / "LICENSE"
    path.write_text("Apache License, Version 2.0\n")
    return path
