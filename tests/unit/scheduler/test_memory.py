"""Memory estimates from GGUF metadata."""

from pathlib import Path

import pytest

from compose_models.runner.scheduling.memory import estimate, kv_bytes_per_token

# SmolLM2-135M's header values, as the store keeps them.
SMOLLM2 = {
    "general.architecture": "llama",
    "llama.block_count": "30",
    "llama.embedding_length": "576",
    "llama.attention.head_count": "9",
    "llama.attention.head_count_kv": "3",
    "llama.context_length": "8192",
}


def test_kv_cache_is_layers_times_kv_heads_times_head_size() -> None:
    # 30 layers × 3 KV heads × (64 + 64) values × 2 bytes (f16)
    assert kv_bytes_per_token(SMOLLM2) == 30 * 3 * 128 * 2
    assert kv_bytes_per_token(SMOLLM2, ("q8_0", "q8_0")) == pytest.approx(30 * 3 * 128 * 34 / 32)


def test_explicit_key_and_value_sizes_and_per_layer_heads() -> None:
    gguf = {"general.architecture": "qwen3", "qwen3.block_count": "2", "qwen3.attention.head_count": "8",
            "qwen3.attention.head_count_kv": "4, 2", "qwen3.attention.key_length": "128",
            "qwen3.attention.value_length": "64", "qwen3.embedding_length": "512"}  # fmt: skip
    assert kv_bytes_per_token(gguf) == (4 + 2) * (128 + 64) * 2


def test_a_header_without_attention_needs_no_kv_cache() -> None:
    assert kv_bytes_per_token({"general.architecture": "mamba", "mamba.block_count": "4"}) == 0


def test_estimate_adds_weights_kv_cache_and_compute(tmp_path: Path) -> None:
    weights = tmp_path / "model.gguf"
    weights.write_bytes(b"\0" * 1000)
    result = estimate([weights], SMOLLM2, 4096)
    assert result.weights == 1000
    assert result.kv_cache == 4096 * 23040
    assert result.total == result.weights + result.kv_cache + result.compute
    assert "4096 tokens" in result.describe()

