"""A model's memory footprint when loaded, estimated from its artifact alone: weights + f16 KV cache.

KV cache = context × Σ over layers of KV heads × 2 (key and value) × head size × 2 bytes (f16),
from the GGUF header the config records. The runner's scheduler has its own estimate (issue 6);
the two should become one implementation.
"""

from dataclasses import dataclass
from typing import Any

from compose_models.store import StoredModel, media_types
from compose_models.units import gguf_size

RUNNER_DEFAULT_CONTEXT = 4096  # what the runner uses when the artifact records no context size
_F16_BYTES = 2
_NOT_LOADED = (media_types.LICENSE, media_types.CHAT_TEMPLATE)


@dataclass(frozen=True)
class MemoryEstimate:
    weights: int
    kv_cache: int | None  # None when the header lacks the attention shape (e.g. non-GGUF models)
    context_size: int

    @property
    def total(self) -> int:
        return self.weights + (self.kv_cache or 0)

    def describe(self) -> str:
        kv_cache = "unknown KV cache" if self.kv_cache is None else f"KV cache {gguf_size(self.kv_cache)}"
        return (
            f"~{gguf_size(self.total)} (weights {gguf_size(self.weights)} + {kv_cache} "
            f"for {self.context_size} tokens of context)"
        )

    def to_json(self) -> dict[str, int | None]:
        return {
            "total": self.total, "weights": self.weights, "kv_cache": self.kv_cache, "context_size": self.context_size,
        }  # fmt: skip


def estimate_memory(model: StoredModel) -> MemoryEstimate:
    """The estimate at the context size the runner would load the model with."""
    context_size = model.context_size or RUNNER_DEFAULT_CONTEXT
    weights = sum(layer.size for layer in model.layers if layer.media_type not in _NOT_LOADED)
    per_token = kv_bytes_per_token(model.config.get("gguf") or {})
    return MemoryEstimate(weights, None if per_token is None else context_size * per_token, context_size)


def kv_bytes_per_token(gguf: dict[str, Any]) -> int | None:
    architecture = gguf.get("general.architecture", "llama")

    def number(key: str) -> int | None:
        value = str(gguf.get(f"{architecture}.{key}", "")).strip()
        return int(value) if value.isdigit() else None

    layers, heads, embedding = number("block_count"), number("attention.head_count"), number("embedding_length")
    head_size = number("attention.key_length") or (embedding // heads if embedding and heads else None)
    if not layers or not head_size:
        return None
    kv_heads_per_layer = str(gguf.get(f"{architecture}.attention.head_count_kv", heads or "")).split(",")
    if not all(part.strip().isdigit() for part in kv_heads_per_layer):
        return None
    kv_heads = [int(part) for part in kv_heads_per_layer]
    total_kv_heads = kv_heads[0] * layers if len(kv_heads) == 1 else sum(kv_heads)
    return total_kv_heads * 2 * head_size * _F16_BYTES
