from pathlib import Path

import pytest

from compose_models.store import ModelStore


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    """An empty store of its own."""
    return ModelStore(tmp_path / "store")
