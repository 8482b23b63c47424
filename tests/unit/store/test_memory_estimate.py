"""The one memory estimate, the scheduler's and the catalog's: weights + KV cache (llama.cpp's rule) + compute."""

from pathlib import Path

import pytest

from compose_models.store.memory_estimate import estimate, file_bytes, kv_bytes_per_token

# SmolLM2-135M's header values, as the store keeps them.
SMOLLM2_HEADER = {
    "general.architecture": "llama",
    "llama.block_count": "30",
    "llama.embedding_length": "576",
    "llama.attention.head_count": "9",
    "llama.attention.head_count_kv": "3",
    "llama.context_length": "8192",
}


def test_kv_cache_per_token_is_layers_kv_heads_key_and_value_head_size_f16() -> None:
    # 30 layers × 3 KV heads × (64 + 64) values × 2 bytes (f16)
    assert kv_bytes_per_token(SMOLLM2_HEADER) == 30 * 3 * 2 * 64 * 2
    assert kv_bytes_per_token(SMOLLM2_HEADER, ("q8_0", "q8_0")) == pytest.approx(30 * 3 * 128 * 34 / 32)


def test_explicit_key_length_and_per_layer_kv_heads() -> None:
    # llama.cpp: a key_length sets the keys' head size only; the values' stays embedding / heads = 576 / 9 = 64.
    header = {**SMOLLM2_HEADER, "llama.attention.key_length": "128", "llama.block_count": "3"}
    header["llama.attention.head_count_kv"] = "4, 0, 2"
    assert kv_bytes_per_token(header) == (4 + 0 + 2) * (128 + 64) * 2


def test_explicit_key_and_value_sizes_and_per_layer_heads() -> None:
    gguf = {"general.architecture": "qwen3", "qwen3.block_count": "2", "qwen3.attention.head_count": "8",
            "qwen3.attention.head_count_kv": "4, 2", "qwen3.attention.key_length": "128",
            "qwen3.attention.value_length": "64", "qwen3.embedding_length": "512"}  # fmt: skip
    assert kv_bytes_per_token(gguf) == (4 + 2) * (128 + 64) * 2


def test_without_kv_head_count_every_head_has_its_own_kv() -> None:
    header = {key: value for key, value in SMOLLM2_HEADER.items() if not key.endswith("head_count_kv")}
    assert kv_bytes_per_token(header) == 30 * 9 * 2 * 64 * 2


def test_unknown_without_the_attention_shape_and_then_no_kv_cache_is_budgeted() -> None:
    assert kv_bytes_per_token({}) is None
    assert kv_bytes_per_token({"general.architecture": "mamba", "mamba.block_count": "24"}) is None
    memory = estimate(1000, {"general.architecture": "mamba", "mamba.block_count": "4"}, 4096)
    assert memory.kv_cache is None and memory.total == memory.weights + memory.compute


def test_estimate_adds_weights_kv_cache_and_compute(tmp_path: Path) -> None:
    weights = tmp_path / "model.gguf"
    weights.write_bytes(b"\0" * 1000)
    result = estimate(file_bytes([weights]), SMOLLM2_HEADER, 4096)
    assert result.weights == 1000
    assert result.kv_cache == 4096 * 23040
    assert result.total == result.weights + result.kv_cache + result.compute
    assert "4096 tokens" in result.describe()
