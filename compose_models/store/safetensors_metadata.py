"""Safetensors headers and a sibling ``config.json`` → DMR's model config (reference §3.5)."""

import json
import struct
from collections import Counter
from math import prod
from pathlib import Path
from typing import Any

from compose_models.store.errors import InvalidArtifact

MAX_HEADER_BYTES = 100 * 1024 * 1024
_CONTEXT_KEYS = ("max_position_embeddings", "n_ctx", "n_positions", "max_length", "max_sequence_length",
                 "model_max_length")  # fmt: skip
_INT32_MAX = 2**31 - 1


def read_safetensors_config(weights: list[Path], directory: Path) -> dict[str, Any]:
    headers = [_header(path) for path in weights]
    tensors = [value for header in headers for key, value in header.items() if key != "__metadata__"]
    metadata = {str(k): _go_value(v) for k, v in (headers[0].get("__metadata__") or {}).items()} if headers else {}
    metadata["tensor_count"] = str(len(tensors))
    dtypes = Counter(tensor.get("dtype") for tensor in tensors if tensor.get("dtype"))
    config: dict[str, Any] = {
        "format": "safetensors",
        "quantization": next(iter(dtypes)) if len(dtypes) == 1 else ("mixed" if dtypes else "unknown"),
        "parameters": _parameters(sum(prod(tensor.get("shape") or []) for tensor in tensors)),
        "architecture": metadata.get("architecture", ""),
        "size": _decimal_size(sum(path.stat().st_size for path in weights)),
        "safetensors": metadata,
    }
    context_size = _context_size(directory / "config.json")
    if context_size:
        config["context_size"] = context_size
    return config


def _header(path: Path) -> dict[str, Any]:
    with path.open("rb") as file:
        prefix = file.read(8)
        if len(prefix) != 8:
            raise InvalidArtifact(f"{path} is not a safetensors file: shorter than its 8-byte header length")
        (length,) = struct.unpack("<Q", prefix)
        if length > MAX_HEADER_BYTES:
            raise InvalidArtifact(f"{path} is not a safetensors file: header length {length} is implausible")
        try:
            header = json.loads(file.read(length))
        except ValueError as error:
            raise InvalidArtifact(f"{path} is not a safetensors file: its header is not JSON ({error})") from error
    if not isinstance(header, dict):
        raise InvalidArtifact(f"{path} is not a safetensors file: its header is not a JSON object")
    return header


def _go_value(value: object) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _parameters(count: int) -> str:
    for base, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if count >= base:
            return f"{count / base:.2f}{unit}"
    return str(count)


def _decimal_size(num_bytes: int) -> str:
    for base, unit in ((1e9, "GB"), (1e6, "MB"), (1e3, "KB")):
        if num_bytes >= base:
            return f"{num_bytes / base:.2f}{unit}"
    return f"{num_bytes}B"


def _context_size(config_json: Path) -> int | None:
    try:
        values = json.loads(config_json.read_text())
    except (OSError, ValueError):
        return None
    for key in _CONTEXT_KEYS:
        value = values.get(key) if isinstance(values, dict) else None
        if isinstance(value, int) and 0 < value <= _INT32_MAX:
            return value
    return None
