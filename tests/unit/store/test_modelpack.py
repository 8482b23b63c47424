"""``package --format cncf``: CNCF ModelPack config and manifest, as DMR converts to them."""

import json
from pathlib import Path

import pytest

from compose_models.errors import UserError
from compose_models.store import ModelStore, media_types, package_gguf
from compose_models.store.packaging import PackageOptions, package_safetensors_dir
from tests.unit.store.ggufs import CHAT_TEMPLATE, write_gguf, write_safetensors


def test_gguf_with_extras_as_modelpack(store: ModelStore, tmp_path: Path) -> None:
    (tmp_path / "LICENSE").write_text("MIT")
    (tmp_path / "template.jinja").write_text(CHAT_TEMPLATE)
    projector = write_gguf(tmp_path / "mmproj-tiny.gguf", file_type=1)
    model = package_gguf(
        store, write_gguf(tmp_path / "tiny.gguf"), "myorg/tiny:cncf", licenses=[tmp_path / "LICENSE"],
        chat_template=tmp_path / "template.jinja", mmproj=projector, cncf=True,
    )  # fmt: skip

    raw_manifest = store.raw_manifest(model.id).decode()
    assert raw_manifest.startswith(
        '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
        '"artifactType":"application/vnd.cncf.model.manifest.v1+json",'
        '"config":{"mediaType":"application/vnd.cncf.model.config.v1+json",'
    )
    assert [layer.media_type for layer in model.layers] == [
        media_types.CNCF_WEIGHT_RAW, media_types.CNCF_DOC, media_types.CNCF_WEIGHT_CONFIG, media_types.CNCF_WEIGHT_RAW,
    ]  # fmt: skip
    config = json.loads(model.raw_config)
    assert list(config) == ["descriptor", "modelfs", "config"]
    assert config["descriptor"]["family"] == "llama" and config["descriptor"]["createdAt"].endswith("Z")
    assert config["modelfs"] == {"type": "layers", "diffIds": [layer.digest for layer in model.layers]}
    assert config["config"] == {"architecture": "llama", "format": "gguf", "paramSize": "32", "quantization": "Q8_0"}

    assert model.is_cncf and model.context_size is None
    assert (model.config["format"], model.config["quantization"]) == ("gguf", "Q8_0")
    assert model.gguf_paths == [model.blob_path(model.layers[0])]
    assert model.mmproj_path == model.blob_path(model.layers[3])
    assert model.chat_template_path.read_text() == CHAT_TEMPLATE


def test_safetensors_directory_as_modelpack(store: ModelStore, tmp_path: Path) -> None:
    write_safetensors(tmp_path / "st" / "model.safetensors", 2)
    (tmp_path / "st" / "config.json").write_text("{}")
    (tmp_path / "st" / "README.md").write_text("# model")
    model = package_safetensors_dir(store, tmp_path / "st", "myorg/st:cncf", PackageOptions(cncf=True))
    types = {layer.annotations[media_types.ANNOTATION_FILEPATH]: layer.media_type for layer in model.layers}
    assert types == {
        "model.safetensors": media_types.CNCF_WEIGHT_RAW,
        "README.md": media_types.CNCF_WEIGHT_CONFIG,  # DMR keeps a packaged model file as weight config
        "config.json": media_types.CNCF_WEIGHT_CONFIG,
    }
    assert json.loads(model.raw_config)["config"]["format"] == "safetensors"


def test_context_size_is_refused_with_cncf(store: ModelStore, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="--context-size cannot be used with --format cncf"):
        package_gguf(store, write_gguf(tmp_path / "m.gguf"), "ai/m", context_size=512, cncf=True)
