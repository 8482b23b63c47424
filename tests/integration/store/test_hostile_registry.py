"""Pulls and pushes against a stand-in for a hostile registry: bounded reads, Bearer realms, other hosts.

The stand-in (hostile_registry.py) serves a real model artifact, built by the store from a real GGUF,
and misbehaves in one way per test.
"""

import base64
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from compose_models.errors import UserError
from compose_models.store import ModelStore, StoredModel, package_gguf
from compose_models.store.blobs import sha256_digest
from compose_models.store.pull import pull_model
from compose_models.store.push import push_model
from tests.conftest import require, run_cli
from tests.integration.store.hostile_registry import HostileRegistry, hostile_registry
from tests.unit.store.ggufs import write_gguf

MiB = 1 << 20
OTHER_HOST = "127.0.0.2"  # another host on the loopback interface
USER, PASSWORD = "tester", "s3cret"


@pytest.fixture
def source(tmp_path: Path) -> StoredModel:
    gguf = write_gguf(tmp_path / "m.gguf", tensor_rows=4096)
    return package_gguf(ModelStore(tmp_path / "source"), gguf, "team/model")


@pytest.fixture
def fresh(tmp_path: Path) -> ModelStore:
    return ModelStore(tmp_path / "fresh")


@pytest.fixture
def registry() -> Iterator[HostileRegistry]:
    with hostile_registry() as server:
        yield server


@pytest.fixture
def other_host() -> Iterator[HostileRegistry]:
    with hostile_registry(OTHER_HOST) as server:
        yield server


@pytest.fixture
def credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry: HostileRegistry) -> str:
    """The user's credentials for the stand-in registry, in a DOCKER_CONFIG of the test's own; their header."""
    pair = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    directory = tmp_path / "docker"
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps({"auths": {registry.address: {"auth": pair}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))
    return f"Basic {pair}"


def _serve(registry: HostileRegistry, model: StoredModel, manifest: dict | None = None) -> str:
    """Serve ``model`` (or this edited manifest of it) as team/model:v1; its reference."""
    store = ModelStore(model.blobs_directory.parent.parent)
    digests = [layer.digest for layer in model.layers] + [model.manifest["config"]["digest"]]
    raw = json.dumps(manifest).encode() if manifest is not None else store.raw_manifest(model.id)
    registry.serve("team/model", "v1", raw, {digest: store.blobs.read_bytes(digest) for digest in digests})
    return f"{registry.address}/team/model:v1"


# -- 1. bounded reads -----------------------------------------------------------------------------


def test_a_blob_longer_than_its_declared_size_is_cut_off_there(
    registry: HostileRegistry, source: StoredModel, fresh: ModelStore
) -> None:
    reference = _serve(registry, source)
    weights = max(source.layers, key=lambda layer: layer.size)
    registry.blob_tails[weights.digest] = 512 * MiB
    with pytest.raises(UserError) as refused:
        pull_model(fresh, reference)
    message = str(refused.value)
    assert reference in message and weights.digest in message
    assert f"more than its declared {weights.size} bytes" in message
    # Stopped at the declared size (give or take what the sockets had buffered), not at the end of the tail
    assert registry.sent < weights.size + 64 * MiB
    assert fresh.models() == [] and not fresh.blobs.has(weights.digest)
    assert not fresh.blobs.incomplete_path(weights.digest).exists()


def test_a_config_longer_than_declared_or_declared_huge_is_refused(
    registry: HostileRegistry, source: StoredModel, fresh: ModelStore
) -> None:
    config = source.manifest["config"]
    reference = _serve(registry, source)
    registry.blob_tails[config["digest"]] = 512 * MiB
    with pytest.raises(UserError, match=rf"config of {reference}.*more than its declared {config['size']} bytes"):
        pull_model(fresh, reference)
    assert registry.sent < 64 * MiB

    huge = {**source.manifest, "config": {**config, "size": 17 * MiB}}
    reference = _serve(registry, source, huge)
    with pytest.raises(UserError, match=rf"config of {reference} declares 17825792 bytes, more than the 16 MiB"):
        pull_model(fresh, reference)


def test_a_manifest_over_4_mib_is_refused(registry: HostileRegistry, source: StoredModel, fresh: ModelStore) -> None:
    padded = {**source.manifest, "annotations": {"padding": "x" * (5 * MiB)}}
    reference = _serve(registry, source, padded)
    with pytest.raises(UserError, match=rf"the manifest of {reference} is larger than 4 MiB"):
        pull_model(fresh, reference)
    assert fresh.models() == []


def test_a_manifest_with_too_many_layers_is_refused(
    registry: HostileRegistry, source: StoredModel, fresh: ModelStore
) -> None:
    layer = source.manifest["layers"][0]
    layers = [{**layer, "digest": sha256_digest(str(index).encode())} for index in range(1025)]
    reference = _serve(registry, source, {**source.manifest, "layers": layers})
    with pytest.raises(UserError, match=rf"{reference} has 1025 layers, more than the 1024"):
        pull_model(fresh, reference)
    assert not any(request.path.startswith("/v2/team/model/blobs/") and request.path.endswith(layers[5]["digest"])
                   for request in registry.requests)  # fmt: skip


@pytest.mark.parametrize(
    ("edit", "refusal"),
    [
        (lambda manifest: "not a manifest", "is not a JSON object"),
        (lambda manifest: {**manifest, "layers": {"a": 1}}, "has no list of layers"),
        (lambda manifest: {**manifest, "layers": [{**manifest["layers"][0], "size": "1e30"}]},
         r"has no valid size in layers\[0\]"),
        (lambda manifest: {**manifest, "layers": [{**manifest["layers"][0], "digest": "sha256:../../etc"}]},
         r"has an invalid digest in layers\[0\]"),
    ],
)  # fmt: skip
def test_a_malformed_manifest_is_a_clear_error(
    edit, refusal: str, registry: HostileRegistry, source: StoredModel, fresh: ModelStore
) -> None:
    reference = _serve(registry, source, edit(source.manifest))
    with pytest.raises(UserError, match=rf"the manifest of {reference} {refusal}"):
        pull_model(fresh, reference)


def test_the_cli_reports_a_cut_off_blob_in_one_line(registry: HostileRegistry, source: StoredModel) -> None:
    reference = _serve(registry, source)
    registry.blob_tails[max(source.layers, key=lambda layer: layer.size).digest] = 512 * MiB
    result = run_cli("pull", reference, check=False)
    assert result.returncode == 1
    assert "more than its declared" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# -- 2. Bearer realms -----------------------------------------------------------------------------


def test_a_plain_http_realm_on_another_host_gets_no_credentials(
    registry: HostileRegistry, other_host: HostileRegistry, source: StoredModel, fresh: ModelStore, credentials: str
) -> None:
    reference = _serve(registry, source)
    realm = f"{other_host.url}/token"
    registry.challenge = f'Bearer realm="{realm}",service="stand-in"'
    with pytest.raises(UserError) as refused:
        pull_model(fresh, reference)
    message = str(refused.value)
    assert realm in message and "https" in message and registry.address in message
    assert other_host.requests == []  # never asked, so the user's credentials never went there


def test_the_token_servers_answer_is_not_echoed(
    registry: HostileRegistry, source: StoredModel, fresh: ModelStore, credentials: str
) -> None:
    """A realm on the registry's own (loopback) host over plain HTTP is fine; its error body is not repeated."""
    with hostile_registry() as tokens:
        tokens.token_answer = (500, b"<html>stand-in internals: db=10.0.0.7 password=hunter2</html>")
        reference = _serve(registry, source)
        registry.challenge = f'Bearer realm="{tokens.url}/token",service="stand-in"'
        with pytest.raises(UserError) as refused:
            pull_model(fresh, reference)
    message = str(refused.value)
    assert "HTTP 500" in message and f"{tokens.url}/token" in message
    assert "hunter2" not in message and "internals" not in message
    assert tokens.authorizations() == [credentials]  # same host: the credentials were for it to check


def test_an_https_realm_on_another_host_is_used(
    registry: HostileRegistry, source: StoredModel, fresh: ModelStore, credentials: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As Docker Hub sends clients to auth.docker.io: a token server elsewhere is fine over https."""
    require(shutil.which("openssl") is not None, "openssl (apt-get install openssl)")
    certificate, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={OTHER_HOST}",
         "-addext", f"subjectAltName=IP:{OTHER_HOST}", "-keyout", str(key), "-out", str(certificate)],
        check=True, capture_output=True,
    )  # fmt: skip
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate))  # trusted by httpx, for this test
    with hostile_registry(OTHER_HOST, tls=(certificate, key)) as tokens:
        reference = _serve(registry, source)
        registry.challenge = f'Bearer realm="{tokens.url}/token",service="stand-in"'
        assert pull_model(fresh, reference).model.id == source.id
    assert tokens.authorizations() == [credentials]
    assert "Bearer stand-in-token" in registry.authorizations()


# -- 4. no Authorization to another host -----------------------------------------------------------


def test_an_upload_location_on_another_host_gets_no_authorization(
    registry: HostileRegistry, other_host: HostileRegistry, source: StoredModel, tmp_path: Path, credentials: str
) -> None:
    store = ModelStore(tmp_path / "source")
    reference = f"{registry.address}/team/model:v1"
    store.tag(source.id, reference)
    registry.challenge = 'Basic realm="stand-in"'
    registry.upload_location = other_host.url
    assert push_model(store, reference) == source.id
    uploads = [request for request in other_host.requests if request.method == "PUT"]
    assert len(uploads) == len(source.layers) + 1 and set(other_host.blobs) >= {layer.digest for layer in source.layers}
    assert other_host.authorizations() == []
    assert credentials in registry.authorizations()


def test_a_blob_download_redirected_to_another_host_gets_no_authorization(
    registry: HostileRegistry, other_host: HostileRegistry, source: StoredModel, fresh: ModelStore, credentials: str
) -> None:
    """As a registry sends downloads to its CDN (httpx drops the header on cross-origin redirects)."""
    reference = _serve(registry, source)
    other_host.blobs.update(registry.blobs)
    registry.challenge = 'Basic realm="stand-in"'
    registry.blob_redirect = other_host.url
    assert pull_model(fresh, reference).model.id == source.id
    assert len(other_host.requests) == len(source.layers) + 1
    assert other_host.authorizations() == []
