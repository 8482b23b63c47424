"""The bytes of what ``package`` writes: key order, Go escaping, diff IDs and the model ID."""

import hashlib
import json
from pathlib import Path

from compose_models.store import ModelStore, package_gguf
from compose_models.store.gojson import go_marshal
from compose_models.units import parse_rfc3339_seconds, rfc3339_nano
from tests.unit.store.ggufs import write_gguf


def test_go_marshal_escapes_like_encoding_json() -> None:
    assert go_marshal({"b": "<a> & \u2028é\n\x01"}) == b'{"b":"\\u003ca\\u003e \\u0026 \\u2028\xc3\xa9\\n\\u0001"}'


def test_rfc3339_nano_trims_trailing_zeros() -> None:
    assert rfc3339_nano(1_700_000_000_120_000_000) == "2023-11-14T22:13:20.12Z"
    assert rfc3339_nano(1_700_000_000_000_000_000) == "2023-11-14T22:13:20Z"
    assert parse_rfc3339_seconds("2023-11-14T22:13:20.123456789+01:00") == 1_700_000_000 - 3600


def test_packaged_artifact_bytes(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "store")
    license_file = tmp_path / "LICENSE"
    license_file.write_text("MIT")
    template = tmp_path / "template.jinja"
    template.write_text("{{ messages }}")
    model = package_gguf(
        store, write_gguf(tmp_path / "m.gguf"), "ai/tiny", licenses=[license_file], chat_template=template
    )

    raw_manifest = store.raw_manifest(model.id)
    assert model.id == "sha256:" + hashlib.sha256(raw_manifest).hexdigest()
    assert b" " not in raw_manifest.replace(b"tiny test model", b"")
    manifest = json.loads(raw_manifest)
    assert list(manifest) == ["schemaVersion", "mediaType", "config", "layers"]
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["config"]["mediaType"] == "application/vnd.docker.ai.model.config.v0.1+json"
    assert [layer["mediaType"] for layer in manifest["layers"]] == [
        "application/vnd.docker.ai.gguf.v3",
        "application/vnd.docker.ai.license",
        "application/vnd.docker.ai.chat.template.jinja",
    ]
    gguf_layer = manifest["layers"][0]
    assert list(gguf_layer) == ["mediaType", "size", "digest", "annotations"]
    assert gguf_layer["annotations"]["org.cncf.model.filepath"] == "m.gguf"
    assert gguf_layer["annotations"]["org.cncf.model.file.mediatype.untested"] == "false"
    file_metadata = json.loads(gguf_layer["annotations"]["org.cncf.model.file.metadata+json"])
    assert list(file_metadata) == ["name", "mode", "uid", "gid", "size", "mtime", "typeflag"]

    raw_config = store.blobs.read_bytes(manifest["config"]["digest"])
    assert manifest["config"]["size"] == len(raw_config)
    assert b"\\u003c|im_start|\\u003e{{ role }} \\u0026 more" in raw_config
    config_file = json.loads(raw_config)
    assert list(config_file) == ["config", "descriptor", "rootfs"]
    assert config_file["rootfs"] == {"type": "rootfs", "diff_ids": [layer["digest"] for layer in manifest["layers"]]}
    assert list(config_file["config"]["gguf"]) == sorted(config_file["config"]["gguf"])
    assert raw_config == go_marshal(config_file)  # compact and in Go's order: re-marshalling is a no-op
    for layer in manifest["layers"]:
        blob = store.blobs.path(layer["digest"])
        assert "sha256:" + hashlib.sha256(blob.read_bytes()).hexdigest() == layer["digest"]


def test_repackaging_the_same_file_reuses_its_blob(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "store")
    gguf = write_gguf(tmp_path / "m.gguf")
    first = package_gguf(store, gguf, "ai/one")
    second = package_gguf(store, gguf, "ai/two", context_size=512)
    assert first.layers[0].digest == second.layers[0].digest
    assert second.context_size == 512 and first.context_size == 2048
    assert len([p for p in store.blobs.directory.iterdir()]) == 3  # one weight blob, two configs
