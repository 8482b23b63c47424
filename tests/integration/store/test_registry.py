"""Pull, push and inspect against a real registry, cross-checked with skopeo."""

import base64
import hashlib
import json
import os
import subprocess
import threading
from pathlib import Path

import pytest

from compose_models.errors import UserError
from compose_models.store import ModelStore, StoredModel, package_gguf
from compose_models.store.blobs import sha256_digest
from compose_models.store.pull import fetch_remote_model, pull_model
from compose_models.store.push import push_model
from compose_models.store.registry_client import RegistryClient
from tests.conftest import free_port, run_cli
from tests.integration.store.conftest import PASSWORD, USER
from tests.unit.store.ggufs import write_gguf


@pytest.fixture
def local(tmp_path: Path) -> ModelStore:
    return ModelStore(tmp_path / "local")


@pytest.fixture
def fresh(tmp_path: Path) -> ModelStore:
    return ModelStore(tmp_path / "fresh")


def _pushed(store: ModelStore, registry: str, repository: str, tmp_path: Path, rows: int = 4096) -> StoredModel:
    model = package_gguf(store, write_gguf(tmp_path / f"{repository.replace('/', '-')}.gguf", tensor_rows=rows), repository)
    target = f"{registry}/{repository}:v1"
    store.tag(model.id, target)
    assert push_model(store, target) == model.id
    return model


def test_push_then_pull_gives_identical_model(local: ModelStore, fresh: ModelStore, registry: str, tmp_path: Path) -> None:
    model = _pushed(local, registry, "team/roundtrip", tmp_path)
    result = pull_model(fresh, f"{registry}/team/roundtrip:v1")
    assert not result.cached
    assert result.model.id == model.id
    assert fresh.raw_manifest(model.id) == local.raw_manifest(model.id)
    for layer in model.layers:
        assert fresh.blobs.read_bytes(layer.digest) == local.blobs.read_bytes(layer.digest)
    assert result.model.tags == (f"{registry}/team/roundtrip:v1",)
    assert pull_model(fresh, f"{registry}/team/roundtrip:v1").cached
    assert pull_model(fresh, f"{registry}/team/roundtrip@{model.id}").model.id == model.id


def test_skopeo_reads_what_we_push_and_we_pull_what_skopeo_copies(
    local: ModelStore, fresh: ModelStore, registry: str, skopeo: str, tmp_path: Path
) -> None:
    model = _pushed(local, registry, "team/skopeo", tmp_path)
    raw = subprocess.run(
        [skopeo, "inspect", "--raw", "--tls-verify=false", f"docker://{registry}/team/skopeo:v1"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    assert sha256_digest(raw) == model.id
    subprocess.run(
        [skopeo, "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
         f"docker://{registry}/team/skopeo:v1", f"docker://{registry}/copied/by-skopeo:v2"],
        check=True, capture_output=True,
    )  # fmt: skip
    assert pull_model(fresh, f"{registry}/copied/by-skopeo:v2").model.id == model.id


def test_interrupted_pull_resumes_and_corrupt_partial_is_rejected(
    local: ModelStore, fresh: ModelStore, registry: str, tmp_path: Path
) -> None:
    model = _pushed(local, registry, "team/resume", tmp_path, rows=65536)
    weights = model.layers[0]
    data = local.blobs.read_bytes(weights.digest)
    partial = fresh.blobs.incomplete_path(weights.digest)

    partial.write_bytes(b"\0" * (len(data) // 2))  # what a crash after corrupt writes would leave
    with pytest.raises(UserError, match="does not match its digest"):
        pull_model(fresh, f"{registry}/team/resume:v1")
    assert not partial.exists() and not fresh.blobs.has(weights.digest) and fresh.models() == []

    partial.write_bytes(data[: len(data) // 2])  # what an interrupted download leaves
    assert pull_model(fresh, f"{registry}/team/resume:v1").model.id == model.id
    assert not partial.exists()
    assert hashlib.sha256(fresh.blobs.read_bytes(weights.digest)).hexdigest() == weights.digest[7:]


def test_concurrent_pulls_of_one_model(local: ModelStore, fresh: ModelStore, registry: str, tmp_path: Path) -> None:
    model = _pushed(local, registry, "team/concurrent", tmp_path, rows=65536)
    results: list[object] = []
    threads = [
        threading.Thread(target=lambda: results.append(pull_model(fresh, f"{registry}/team/concurrent:v1")))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 3
    assert [m.id for m in fresh.models()] == [model.id]
    assert not list(fresh.blobs.directory.glob("*.incomplete"))


def test_cross_repository_mount(local: ModelStore, registry: str, tmp_path: Path) -> None:
    model = _pushed(local, registry, "team/source", tmp_path)
    with RegistryClient(registry) as client:
        assert client.mount_blob("team/mounted", model.layers[0].digest, "team/source")
        assert client.blob_exists("team/mounted", model.layers[0].digest)
    local.tag(model.id, f"{registry}/team/elsewhere:v1")
    assert push_model(local, f"{registry}/team/elsewhere:v1") == model.id


def test_unsupported_config_type_is_refused(fresh: ModelStore, registry: str) -> None:
    config = b'{"architecture":"amd64","os":"linux"}'
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": len(config),
                   "digest": sha256_digest(config)}, "layers": [],
    }).encode()  # fmt: skip
    with RegistryClient(registry) as client:
        client.upload_blob("team/image", sha256_digest(config), len(config), [config])
        client.put_manifest("team/image", "v1", manifest, "application/vnd.oci.image.manifest.v1+json")
    with pytest.raises(UserError, match="not a model artifact"):
        pull_model(fresh, f"{registry}/team/image:v1")


@pytest.mark.parametrize(
    ("registry_fixture", "refusal"),
    [
        ("auth_registry", "credentials were refused"),  # htpasswd: Basic auth
        ("token_registry", "token server .* refused the credentials"),  # Bearer tokens, as Docker Hub
    ],
)
def test_auth(
    registry_fixture: str, refusal: str, local: ModelStore, fresh: ModelStore, tmp_path: Path, monkeypatch, request
) -> None:
    registry = request.getfixturevalue(registry_fixture)
    reference = f"{registry}/private/model:v1"
    model = package_gguf(local, write_gguf(tmp_path / "m.gguf"), reference)
    with pytest.raises(UserError, match="requires authentication.*no credentials found"):
        push_model(local, reference)

    _docker_config(tmp_path, monkeypatch, {"auths": {registry: {"username": USER, "password": "wrong"}}})
    with pytest.raises(UserError, match=refusal):
        pull_model(fresh, reference)

    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    _docker_config(tmp_path, monkeypatch, {"auths": {f"http://{registry}": {"auth": token}}})
    assert push_model(local, reference) == model.id
    assert pull_model(fresh, reference).model.id == model.id


def test_credential_helper(local: ModelStore, fresh: ModelStore, auth_registry: str, tmp_path: Path, monkeypatch) -> None:
    """``credHelpers`` names a ``docker-credential-<name>`` program that answers ``get`` with JSON."""
    model = package_gguf(local, write_gguf(tmp_path / "m.gguf"), f"{auth_registry}/helped/model:v1")
    helpers = tmp_path / "bin"
    helpers.mkdir()
    helper = helpers / "docker-credential-testhelper"
    helper.write_text(
        f"#!/bin/sh\n[ \"$1\" = get ] && [ \"$(cat)\" = {auth_registry} ] || exit 1\n"
        f"echo '{{\"ServerURL\":\"{auth_registry}\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}'\n"
    )
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{helpers}:{os.environ['PATH']}")
    _docker_config(tmp_path, monkeypatch, {"credHelpers": {auth_registry: "testhelper"}})
    assert push_model(local, f"{auth_registry}/helped/model:v1") == model.id
    assert pull_model(fresh, f"{auth_registry}/helped/model:v1").model.id == model.id


def _docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: dict[str, object]) -> None:
    """Point DOCKER_CONFIG at a config.json holding ``config``."""
    directory = tmp_path / "docker"
    directory.mkdir(exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config))
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))


def test_registry_down_is_a_clear_error(fresh: ModelStore) -> None:
    with pytest.raises(UserError, match="cannot reach registry"):
        pull_model(fresh, f"127.0.0.1:{free_port()}/team/model:v1")


def test_cli_pull_push_inspect_remote(registry: str, tmp_path: Path) -> None:
    gguf = write_gguf(tmp_path / "cli.gguf")
    target = f"{registry}/cli/model:v1"
    model_id = run_cli("package", "--gguf", str(gguf), target).stdout.split()[-1]
    assert run_cli("push", target).stdout.strip() == f"Model pushed successfully: {model_id}"
    remote = json.loads(run_cli("inspect", "--remote", target).stdout)
    assert remote["id"] == model_id and "tags" not in remote
    run_cli("rm", target)
    assert run_cli("pull", target).stdout.strip() == "Model pulled successfully"
    assert run_cli("pull", target).stdout.startswith("Using cached model: ")
    missing = run_cli("pull", f"{registry}/cli/absent:v1", check=False)
    assert missing.returncode == 1 and "not found in registry" in missing.stderr and "Traceback" not in missing.stderr
    assert fetch_remote_model(target).id == model_id

    small = f"{registry}/cli/model:small"
    packaged = run_cli("package", "--from", target, "--context-size", "64", "--push", small).stdout
    assert f"Model pushed successfully: {small}" in packaged
    assert fetch_remote_model(small).context_size == 64
    both = run_cli("package", "--gguf", str(gguf), "--from", target, small, check=False)
    assert both.returncode == 1 and "exactly one of" in both.stderr


def test_cncf_artifact_round_trip(registry: str, skopeo: str, tmp_path: Path) -> None:
    target = f"{registry}/cncf/model:v1"
    output = run_cli("package", "--gguf", str(write_gguf(tmp_path / "m.gguf")), "--format", "cncf", "--push", target).stdout
    model_id = output.split()[-1]
    raw = subprocess.run(
        [skopeo, "inspect", "--raw", "--tls-verify=false", f"docker://{target}"], check=True, capture_output=True
    ).stdout
    assert sha256_digest(raw) == model_id
    assert json.loads(raw)["artifactType"] == "application/vnd.cncf.model.manifest.v1+json"
    run_cli("rm", target)
    assert run_cli("pull", target).stdout.strip() == "Model pulled successfully"
    assert json.loads(run_cli("inspect", target).stdout)["config"]["format"] == "gguf"
    refused = run_cli("package", "--gguf", str(tmp_path / "m.gguf"), "--format", "cncf", "--context-size", "9", target, check=False)
    assert refused.returncode == 1 and "--context-size cannot be used with --format cncf" in refused.stderr
