"""Pulls into a store on a small tmpfs: one whose layers do not fit is refused before a byte is downloaded,
naming what it needs and what is free; one that fills the disk part-way drops its partial blob."""

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from compose_models.store import ModelStore, StoredModel, package_gguf
from compose_models.store.errors import StoreFull
from compose_models.store.pull import PULL_RESERVE_BYTES, pull_model
from tests.conftest import cli_headers, run_cli
from tests.integration.full_disk import fill, small_tmpfs
from tests.integration.store.hostile_registry import HostileRegistry, hostile_registry
from tests.unit.store.ggufs import write_gguf

MiB = 1 << 20
WEIGHTS_MIB = 8
ROWS_PER_MIB = MiB // 32  # write_gguf's tensor: 8 float32 a row


@pytest.fixture
def registry() -> Iterator[HostileRegistry]:
    with hostile_registry() as server:
        yield server


def _served(registry: HostileRegistry, tmp_path: Path, weights_mib: int) -> tuple[str, StoredModel]:
    source = ModelStore(tmp_path / "source")
    model = package_gguf(source, write_gguf(tmp_path / "m.gguf", tensor_rows=weights_mib * ROWS_PER_MIB), "team/model")
    digests = [layer.digest for layer in model.layers] + [model.manifest["config"]["digest"]]
    blobs = {digest: source.blobs.read_bytes(digest) for digest in digests}
    registry.serve("team/model", "v1", source.raw_manifest(model.id), blobs)
    return f"{registry.address}/team/model:v1", model


def test_a_pull_larger_than_the_free_space_is_refused_before_downloading(registry: HostileRegistry, tmp_path: Path) -> None:
    size_mib = PULL_RESERVE_BYTES // MiB + WEIGHTS_MIB  # the layers would fit, but not with the space kept free
    with small_tmpfs(tmp_path / "store", size_mib) as folder:
        reference, model = _served(registry, tmp_path, WEIGHTS_MIB)
        with pytest.raises(StoreFull) as refused:
            pull_model(ModelStore(folder), reference)
        message = str(refused.value)
        assert f"not enough disk space to pull {reference}: it needs {WEIGHTS_MIB + 1} MiB more" in message
        assert f"{PULL_RESERVE_BYTES // MiB} MiB must stay free" in message and f"({folder}) has" in message
        weights = max(model.layers, key=lambda layer: layer.size)
        assert not [request for request in registry.requests if request.path.endswith(weights.digest)]


def test_a_pull_that_fills_the_disk_drops_its_partial_blob(registry: HostileRegistry, tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "home", PULL_RESERVE_BYTES // MiB + 4 * WEIGHTS_MIB) as home:
        reference, model = _served(registry, tmp_path, WEIGHTS_MIB)
        weights = max(model.layers, key=lambda layer: layer.size)
        store = ModelStore(home / "models")
        # Something else takes the disk between the check and the download, leaving 1 MiB.
        registry.before_blob[weights.digest] = lambda: fill(home, leave=MiB)
        failed = run_cli("pull", "--insecure", reference, check=False, env={**os.environ, "COMPOSE_MODELS_HOME": str(home)})
        assert failed.returncode != 0
        assert f"the store's disk ({store.root}) filled up while pulling {reference}" in failed.stderr
        assert f"partial blob {weights.digest} was removed" in failed.stderr and "Traceback" not in failed.stderr
        assert not store.blobs.incomplete_path(weights.digest).exists() and store.models() == []


def test_the_runner_answers_a_pull_that_does_not_fit_with_a_507(
    registry: HostileRegistry, tmp_path: Path, isolated_home: Path
) -> None:
    with small_tmpfs(isolated_home / "models", PULL_RESERVE_BYTES // MiB + WEIGHTS_MIB):
        reference, _ = _served(registry, tmp_path, WEIGHTS_MIB)
        run_cli("serve", "--detach")
        try:
            url = f"http://127.0.0.1:{os.environ['COMPOSE_MODELS_PORT']}"
            answer = httpx.post(f"{url}/api/pull", json={"model": reference, "insecure": True, "stream": False},
                                headers=cli_headers(), timeout=60)
            assert answer.status_code == 507, answer.text
            assert answer.json()["error"].startswith(f"not enough disk space to pull {reference}")  # Ollama's shape
        finally:
            run_cli("stop", check=False)
