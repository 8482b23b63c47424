"""How much memory a loaded model takes, estimated before loading it, and how much the runner may use.

Estimate = weights (the GGUF files' sizes) + KV cache + a compute allowance. The KV cache holds,
for every token of context in every slot and every layer, one key and one value per KV head:
``tokens × layers × kv_heads × (key_size + value_size) × bytes per element``, all read from the
GGUF header that the store keeps in the model's config (``<arch>.block_count``,
``<arch>.attention.head_count_kv``, ``<arch>.attention.key_length`` or embedding_length / head_count).
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compose_models.units import format_bytes, parse_size

BUDGET_VARIABLE = "COMPOSE_MODELS_MEMORY_BUDGET"
DEFAULT_BUDGET_FRACTION = 0.75  # like Metal's recommended working set on Apple silicon
_COMPUTE_FIXED = 64 * 1024**2
_COMPUTE_FRACTION = 0.05
# Bytes per element of each KV cache type (block quantised types carry a scale per 32 elements).
_KV_TYPE_BYTES = {"f32": 4.0, "f16": 2.0, "bf16": 2.0, "q8_0": 34 / 32, "q5_1": 24 / 32, "q5_0": 22 / 32,
                  "q4_1": 20 / 32, "q4_0": 18 / 32, "iq4_nl": 18 / 32}  # fmt: skip


@dataclass(frozen=True)
class MemoryEstimate:
    weights: int
    kv_cache: int
    compute: int
    context_tokens: int  # the KV cache's length, shared by an engine's request slots

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.compute

    def describe(self) -> str:
        return (
            f"{format_bytes(self.total)} (weights {format_bytes(self.weights)} + KV cache "
            f"{format_bytes(self.kv_cache)} for {self.context_tokens} tokens + compute {format_bytes(self.compute)})"
        )


def estimate(
    weight_files: list[Path], gguf: dict[str, Any], context_size: int, kv_cache_types: tuple[str, str] = ("f16", "f16")
) -> MemoryEstimate:
    """The memory one engine of this model takes with a KV cache of ``context_size`` tokens."""
    weights = sum(path.stat().st_size for path in weight_files if path.exists())
    tokens = context_size
    return MemoryEstimate(
        weights=weights,
        kv_cache=int(tokens * kv_bytes_per_token(gguf, kv_cache_types)),
        compute=int(_COMPUTE_FIXED + _COMPUTE_FRACTION * weights),
        context_tokens=tokens,
    )


def kv_bytes_per_token(gguf: dict[str, Any], kv_cache_types: tuple[str, str] = ("f16", "f16")) -> float:
    """KV cache bytes for one token of context; 0 when the header lacks what is needed (e.g. recurrent models)."""
    layers = _integer(gguf, "block_count")
    heads = _integer(gguf, "attention.head_count")
    kv_heads = _per_layer_total(gguf, "attention.head_count_kv", layers) or (heads or 0) * (layers or 0)
    embedding = _integer(gguf, "embedding_length")
    head_size = embedding // heads if embedding and heads else 0
    key_size = _integer(gguf, "attention.key_length") or head_size
    value_size = _integer(gguf, "attention.value_length") or head_size
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


def _per_layer_total(gguf: dict[str, Any], key: str, layers: int | None) -> int:
    """Σ over layers of a value that is one number for all layers or a list with one per layer."""
    value = _architecture_value(gguf, key)
    if value is None:
        return 0
    try:
        numbers = [int(part) for part in str(value).split(",") if part.strip()]
    except ValueError:
        return 0
    if len(numbers) == 1:
        return numbers[0] * (layers or 0)
    return sum(numbers)


def physical_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def memory_budget() -> int:
    """``$COMPOSE_MODELS_MEMORY_BUDGET`` (e.g. ``8GiB``), else 75% of the machine's memory."""
    configured = os.environ.get(BUDGET_VARIABLE)
    if configured:
        return parse_size(configured, BUDGET_VARIABLE)
    return int(physical_memory() * DEFAULT_BUDGET_FRACTION)

