"""A catalog of its own for each test: an organisation on the session's real registry, and its policy."""

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.store.conftest import registry  # noqa: F401  (Debian's docker-registry on loopback)


@dataclass(frozen=True)
class Catalog:
    org: str  # registry/namespace
    directory: Path  # holds catalog.yaml; the tests' current directory


@pytest.fixture
def catalog(registry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Catalog:  # noqa: F811
    org = f"{registry}/team-{uuid.uuid4().hex[:8]}"
    directory = tmp_path / "catalog"
    directory.mkdir()
    (directory / "catalog.yaml").write_text(f"org: {org}\nmax_size: 1GiB\n")
    monkeypatch.chdir(directory)
    return Catalog(org, directory)


@pytest.fixture
def license_file(tmp_path: Path) -> Path:
    path = tmp_path / "LICENSE"
    path.write_text("Apache License, Version 2.0\n")
    return path
