"""The memory estimate from an artifact's GGUF header: weights plus an f16 KV cache."""

from compose_models.catalog.memory_estimate import kv_bytes_per_token

SMOLLM2_HEADER = {
    "general.architecture": "llama",
    "llama.block_count": "30",
    "llama.embedding_length": "576",
    "llama.attention.head_count": "9",
    "llama.attention.head_count_kv": "3",
}


def test_kv_cache_per_token_is_layers_kv_heads_key_and_value_head_size_f16() -> None:
    assert kv_bytes_per_token(SMOLLM2_HEADER) == 30 * 3 * 2 * 64 * 2


def test_explicit_key_length_and_per_layer_kv_heads() -> None:
    header = {**SMOLLM2_HEADER, "llama.attention.key_length": "128", "llama.block_count": "3"}
    header["llama.attention.head_count_kv"] = "4, 0, 2"
    assert kv_bytes_per_token(header) == (4 + 0 + 2) * 2 * 128 * 2


def test_without_kv_head_count_every_head_has_its_own_kv() -> None:
    header = {key: value for key, value in SMOLLM2_HEADER.items() if not key.endswith("head_count_kv")}
    assert kv_bytes_per_token(header) == 30 * 9 * 2 * 64 * 2


def test_unknown_without_the_attention_shape() -> None:
    assert kv_bytes_per_token({}) is None
    assert kv_bytes_per_token({"general.architecture": "mamba", "mamba.block_count": "24"}) is None
