from pathlib import Path

import pytest

from compose_models.errors import UserError
from compose_models.store.gguf_metadata import discover_shards, read_gguf_config
from tests.unit.store.ggufs import CHAT_TEMPLATE, write_gguf


def test_config_fields_follow_gguf_parser(tmp_path: Path) -> None:
    config = read_gguf_config(write_gguf(tmp_path / "m.gguf", context_length=4096, tensor_rows=250_000))
    assert list(config) == ["format", "quantization", "parameters", "architecture", "size", "gguf", "context_size"]
    assert config["format"] == "gguf"
    assert config["quantization"] == "Q8_0"
    assert config["parameters"] == "2M"  # 250000 x 8 elements, ".00" trimmed like gguf-parser-go
    assert config["architecture"] == "llama"
    assert config["size"] == "7.63MiB"  # 2,000,000 float32 = 8,000,000 bytes
    assert config["context_size"] == 4096


def test_gguf_map_holds_every_header_value_as_go_formats_it(tmp_path: Path) -> None:
    gguf = read_gguf_config(write_gguf(tmp_path / "m.gguf"))["gguf"]
    assert gguf["general.architecture"] == "llama"
    assert gguf["llama.context_length"] == "2048"
    assert gguf["llama.rope.freq_base"] == "10000.000000"
    assert gguf["llama.attention.layer_norm_rms_epsilon"] == "0.000010"
    assert gguf["tokenizer.ggml.add_bos_token"] == "true"
    assert gguf["general.languages"] == "en, fr"
    assert gguf["tokenizer.chat_template"] == CHAT_TEMPLATE
    assert "tokenizer.ggml.tokens" not in gguf  # 60 elements > 50
    assert not any(key.startswith("GGUF.") for key in gguf)


def test_context_size_absent_when_the_header_has_none(tmp_path: Path) -> None:
    config = read_gguf_config(write_gguf(tmp_path / "m.gguf", context_length=0))
    assert "context_size" not in config


def test_not_a_gguf_is_a_user_error(tmp_path: Path) -> None:
    bogus = tmp_path / "x.gguf"
    bogus.write_bytes(b"not a model")
    with pytest.raises(UserError, match="not a GGUF file"):
        read_gguf_config(bogus)


def test_shards_are_found_in_order_from_the_first(tmp_path: Path) -> None:
    shards = [write_gguf(tmp_path / f"m-{i:05d}-of-00003.gguf") for i in (2, 1, 3)]
    assert discover_shards(tmp_path / "m-00001-of-00003.gguf") == sorted(shards)
    shards[2].unlink()
    with pytest.raises(UserError, match="m-00003-of-00003.gguf"):
        discover_shards(tmp_path / "m-00001-of-00003.gguf")
    assert discover_shards(tmp_path / "single.gguf") == [tmp_path / "single.gguf"]
