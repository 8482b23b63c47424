"""Sharded GGUF, safetensors directories and ``--from`` repackaging."""

import json
from pathlib import Path

import pytest

from compose_models.errors import UserError
from compose_models.store import ModelStore, package_gguf
from compose_models.store.packaging import PackageOptions, package_safetensors_dir, repackage
from tests.unit.store.ggufs import write_gguf, write_safetensors


def test_sharded_gguf_is_one_layer_per_shard_in_order(store: ModelStore, tmp_path: Path) -> None:
    shards = [write_gguf(tmp_path / f"big-{i:05d}-of-00002.gguf", tensor_rows=4 + i) for i in (1, 2)]
    model = package_gguf(store, shards[0], "ai/big")
    assert [path.read_bytes() for path in model.gguf_paths] == [shard.read_bytes() for shard in shards]
    assert [layer.annotations["org.cncf.model.filepath"] for layer in model.layers] == [s.name for s in shards]


def test_safetensors_directory_is_v02_with_paths(store: ModelStore, tmp_path: Path) -> None:
    source = tmp_path / "hf"
    write_safetensors(source / "model-00002-of-00002.safetensors", 8)
    write_safetensors(source / "model-00001-of-00002.safetensors", 2)
    (source / "config.json").write_text(json.dumps({"max_position_embeddings": 4096}))
    (source / "tokenizer" / "tokenizer.json").parent.mkdir()
    (source / "tokenizer" / "tokenizer.json").write_text("{}")
    (source / "LICENSE").write_text("Apache-2.0")
    (source / ".cache").mkdir()
    (source / ".cache" / "junk").write_text("skip me")
    (source / "link.json").symlink_to(source / "config.json")

    model = package_safetensors_dir(store, source, "myorg/hf-model")
    assert model.config_media_type == "application/vnd.docker.ai.model.config.v0.2+json"
    paths = [(layer.annotations["org.cncf.model.filepath"], layer.media_type.rsplit(".", 1)[-1]) for layer in model.layers]
    assert paths == [
        ("model-00001-of-00002.safetensors", "safetensors"),
        ("model-00002-of-00002.safetensors", "safetensors"),
        ("LICENSE", "license"),
        ("config.json", "file"),
        ("tokenizer/tokenizer.json", "file"),
    ]
    config = model.config
    assert (config["format"], config["quantization"], config["parameters"]) == ("safetensors", "F32", "40")
    assert config["context_size"] == 4096 and config["safetensors"]["tensor_count"] == "2"


def test_safetensors_directory_without_weights(store: ModelStore, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no .safetensors file"):
        package_safetensors_dir(store, tmp_path / "empty", "ai/x")


def test_from_reuses_layers_with_a_new_config(store: ModelStore, tmp_path: Path) -> None:
    original = package_gguf(store, write_gguf(tmp_path / "m.gguf"), "ai/base")
    template = tmp_path / "chat.jinja"
    template.write_text("{{ x }}")
    variant = repackage(store, "ai/base", "ai/base:8k", PackageOptions(context_size=8192, chat_template=template))
    assert variant.id != original.id
    assert variant.context_size == 8192 and original.context_size == 2048
    assert variant.layers[0] == original.layers[0]
    assert variant.chat_template_path is not None and variant.chat_template_path.read_text() == "{{ x }}"
    assert variant.config_file["rootfs"]["diff_ids"] == [layer.digest for layer in variant.layers]
    assert variant.config_file["descriptor"] == original.config_file["descriptor"]
    assert variant.config["gguf"] == original.config["gguf"]
