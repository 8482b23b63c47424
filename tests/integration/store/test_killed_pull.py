"""A ``pull`` process killed (SIGKILL) in the middle of a blob resumes where it stopped."""

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from compose_models.store import ModelStore, package_gguf
from compose_models.store.push import push_model
from tests.conftest import run_cli
from tests.integration.store.throttled_proxy import throttled_proxy
from tests.unit.store.ggufs import write_gguf

BLOB_ROWS = 1_250_000  # 32 bytes a row: a 40 MB weights blob
DOWNLOAD_RATE = 16 * 1024 * 1024  # bytes per second through the proxy: the blob takes ~2.5 s


def test_pull_killed_mid_blob_resumes_to_a_verified_store(registry: str, tmp_path: Path) -> None:
    source = ModelStore(tmp_path / "source")
    model = package_gguf(source, write_gguf(tmp_path / "big.gguf", tensor_rows=BLOB_ROWS), f"{registry}/team/killed:v1")
    push_model(source, f"{registry}/team/killed:v1")
    weights = max(model.layers, key=lambda layer: layer.size)
    store = ModelStore.default()
    partial = store.blobs.incomplete_path(weights.digest)

    with throttled_proxy(registry, DOWNLOAD_RATE) as proxy:
        reference = f"{proxy.address}/team/killed:v1"
        child = subprocess.Popen([sys.executable, "-m", "compose_models", "pull", reference], stderr=subprocess.PIPE)
        _wait_for_growth(partial, weights.size // 4, child)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        kept = partial.stat().st_size
        assert 0 < kept < weights.size and not store.blobs.has(weights.digest) and store.models() == []

        first_requests = len(proxy.requests_text)
        assert run_cli("pull", reference).stdout.strip() == "Model pulled successfully"
        resumed = re.findall(r"(?im)^range: bytes=(\d+)-\r$", proxy.requests_text[first_requests:])

    assert resumed == [str(kept)]
    pulled = store.get(reference)
    assert pulled.id == model.id
    assert store.raw_manifest(model.id) == source.raw_manifest(model.id)
    for layer in model.layers:
        assert store.blobs.read_bytes(layer.digest) == source.blobs.read_bytes(layer.digest)
    assert not list(store.blobs.directory.glob("*.incomplete"))


def _wait_for_growth(partial: Path, size: int, child: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise AssertionError(f"pull ended before it could be killed: {child.stderr.read().decode()}")
        if partial.is_file() and partial.stat().st_size >= size:
            return
        time.sleep(0.02)
    raise AssertionError(f"{partial} did not reach {size} bytes in 20 s")
