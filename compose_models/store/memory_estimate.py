"""How much memory a model takes once loaded, estimated from its artifact before loading it: what the
runner's scheduler budgets with and what ``catalog validate`` reports.

Estimate = weights + KV cache + a compute allowance. The KV cache follows llama.cpp: for every token of
context and every layer, one key and one value per KV head, ``tokens × Σ layers KV heads × (key size ×
key bytes + value size × value bytes)``, read from the GGUF header the store keeps in the model's
config. As in llama.cpp (``n_embd_head_k``, ``n_embd_head_v``), the key size is
``<arch>.attention.key_length`` and the value size ``<arch>.attention.value_length``, each
``embedding_length / head_count`` when absent; ``head_count_kv`` is one number or one per layer, and
``head_count`` when absent.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compose_models.units import format_bytes

DEFAULT_CONTEXT_SIZE = 4096  # the context a model is loaded with when neither it nor a configuration sets one
_COMPUTE_FIXED = 64 * 1024**2
_COMPUTE_FRACTION = 0.05
# Bytes per element of each KV cache type (block quantised types carry a scale per 32 elements).
_KV_TYPE_BYTES = {"f32": 4.0, "f16": 2.0, "bf16": 2.0, "q8_0": 34 / 32, "q5_1": 24 / 32, "q5_0": 22 / 32,
                  "q4_1": 20 / 32, "q4_0": 18 / 32, "iq4_nl": 18 / 32}  # fmt: skip


@dataclass(frozen=True)
class MemoryEstimate:
    weights: int
    kv_cache: int | None  # None when the header lacks the attention shape (recurrent models, non-GGUF)
    context_size: int  # the KV cache's length, shared by an engine's request slots
    compute: int
    draft: "MemoryEstimate | None" = None  # a draft model's, loaded beside it for speculative decoding

    @property
    def total(self) -> int:
        return self.weights + (self.kv_cache or 0) + self.compute + (self.draft.total if self.draft else 0)

    def describe(self) -> str:
        draft = f" + draft model {self.draft.describe()}" if self.draft else ""
        return (
            f"{format_bytes(self.total)} (weights {format_bytes(self.weights)} + KV cache "
            f"{format_bytes(self.kv_cache or 0)} for {self.context_size} tokens + compute {format_bytes(self.compute)}{draft})"
        )


def estimate(
    weights: int, gguf: dict[str, Any], context_size: int, kv_cache_types: tuple[str, str] = ("f16", "f16")
) -> MemoryEstimate:
    """The memory one engine of a model with ``weights`` bytes takes with a KV cache of ``context_size`` tokens."""
    per_token = kv_bytes_per_token(gguf, kv_cache_types)
    return MemoryEstimate(
        weights=weights,
        kv_cache=None if per_token is None else int(context_size * per_token),
        context_size=context_size,
        compute=int(_COMPUTE_FIXED + _COMPUTE_FRACTION * weights),
    )


def file_bytes(paths: list[Path]) -> int:
    return sum(path.stat().st_size for path in paths if path.exists())


def kv_bytes_per_token(gguf: dict[str, Any], kv_cache_types: tuple[str, str] = ("f16", "f16")) -> float | None:
    """KV cache bytes for one token of context; None when the header lacks the attention shape."""
    layers = _integer(gguf, "block_count")
    heads = _integer(gguf, "attention.head_count")
    embedding = _integer(gguf, "embedding_length")
    head_size = embedding // heads if embedding and heads else 0
    key_size = _integer(gguf, "attention.key_length") or head_size
    value_size = _integer(gguf, "attention.value_length") or head_size
    if not layers or not key_size or not value_size:
        return None
    kv_heads = _per_layer_total(gguf, "attention.head_count_kv", layers) or (heads or 0) * layers
    key_bytes, value_bytes = (_KV_TYPE_BYTES.get(kind, 2.0) for kind in kv_cache_types)
    return kv_heads * (key_size * key_bytes + value_size * value_bytes)


def _architecture_value(gguf: dict[str, Any], key: str) -> Any:
    architecture = gguf.get("general.architecture", "llama")
    return gguf.get(f"{architecture}.{key}")


def _integer(gguf: dict[str, Any], key: str) -> int | None:
    try:
        return int(_architecture_value(gguf, key))
    except (TypeError, ValueError):
        return None


def _per_layer_total(gguf: dict[str, Any], key: str, layers: int) -> int:
    """Σ over layers of a value that is one number for all layers or a list with one per layer."""
    value = _architecture_value(gguf, key)
    if value is None:
        return 0
    try:
        numbers = [int(part) for part in str(value).split(",") if part.strip()]
    except ValueError:
        return 0
    if len(numbers) == 1:
        return numbers[0] * layers
    return sum(numbers)
