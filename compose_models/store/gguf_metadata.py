"""GGUF header → Docker Model Runner's model config (reference §3.5), as gguf-parser-go derives it."""

import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from gguf import GGMLQuantizationType, GGUFReader, GGUFValueType

from compose_models.store.errors import InvalidArtifact
from compose_models.units import gguf_parameters, gguf_size

GGUF_MAGIC = b"GGUF"
MAX_ARRAY_LENGTH = 50  # longer arrays (vocabularies, merges) are left out of the ``gguf`` map
_INT32_MAX = 2**31 - 1
_SHARD = re.compile(r"^(?P<prefix>.+)-(?P<index>\d{5})-of-(?P<count>\d{5})\.gguf$")

# ``general.file_type`` → the name gguf-parser-go prints (llama.cpp's LLAMA_FTYPE_MOSTLY_* without MOSTLY_).
_FILE_TYPE_NAMES = (
    "F32", "F16", "Q4_0", "Q4_1", "Q4_1_SOME_F16", "Q4_2", "Q4_3", "Q8_0", "Q5_0", "Q5_1", "Q2_K",
    "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "IQ2_XXS", "IQ2_XS",
    "Q2_K_S", "IQ3_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ3_M", "IQ2_S", "IQ2_M", "IQ4_XS",
    "IQ1_M", "BF16", "Q4_0_4x4", "Q4_0_4x8", "Q4_0_8x8", "TQ1_0", "TQ2_0", "MXFP4",
)  # fmt: skip


def is_gguf_file(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(4) == GGUF_MAGIC


def discover_shards(path: Path) -> list[Path]:
    """All shards of a split GGUF, in order, given its first shard; ``[path]`` for a single file."""
    match = _SHARD.match(path.name)
    if not match:
        return [path]
    count = int(match["count"])
    shards = [path.with_name(f"{match['prefix']}-{i:05d}-of-{count:05d}.gguf") for i in range(1, count + 1)]
    missing = [shard.name for shard in shards if not shard.is_file()]
    if missing:
        raise InvalidArtifact(f"sharded GGUF {path} is incomplete: missing {', '.join(missing)} beside it")
    return shards


def read_gguf_config(path: Path) -> dict[str, Any]:
    """The inner ``config`` object DMR writes for this GGUF (first shard of a split model)."""
    reader = _open(path)
    metadata: dict[str, str] = {}
    for field in reader.fields.values():
        if field.name.startswith("GGUF."):  # the reader's pseudo-fields for the file header
            continue
        text = _field_text(field)
        if text is not None:
            metadata[field.name] = text
    architecture = metadata.get("general.architecture") or "llama"
    config: dict[str, Any] = {
        "format": "gguf",
        "quantization": _file_type_name(reader),
        "parameters": gguf_parameters(sum(int(t.n_elements) for t in reader.tensors)),
        "architecture": architecture,
        "size": gguf_size(sum(int(t.n_bytes) for t in reader.tensors)),
        "gguf": metadata,
    }
    context_length = _scalar(reader, f"{architecture}.context_length")
    if isinstance(context_length, int) and 0 < context_length <= _INT32_MAX:
        config["context_size"] = context_length
    return config


def _open(path: Path) -> GGUFReader:
    if not is_gguf_file(path):
        raise InvalidArtifact(f"{path} is not a GGUF file: it does not start with the GGUF magic bytes")
    try:
        return GGUFReader(path)
    except (ValueError, IndexError, OSError) as error:
        raise InvalidArtifact(f"{path} is not a readable GGUF file: {error}") from error


def _scalar(reader: GGUFReader, key: str) -> Any:
    field = reader.fields.get(key)
    if field is None or field.types[0] in (GGUFValueType.ARRAY, GGUFValueType.STRING):
        return None
    return field.parts[field.data[0]][0].item()


def _field_text(field: Any) -> str | None:
    """Go's formatting of one header value; None for arrays DMR leaves out."""
    value_type = field.types[0]
    if value_type != GGUFValueType.ARRAY:
        return _value_text(value_type, field.parts[field.data[0]])
    if len(field.data) > MAX_ARRAY_LENGTH:
        return None
    element_type = field.types[1] if len(field.types) > 1 else None
    if element_type in (None, GGUFValueType.ARRAY):
        return ""  # gguf-parser-go skips nested arrays, leaving an empty join
    return ", ".join(_value_text(element_type, field.parts[index]) for index in field.data)


def _value_text(value_type: GGUFValueType, part: np.ndarray) -> str:
    if value_type == GGUFValueType.STRING:
        return bytes(part).decode("utf-8", errors="replace")
    value = part[0].item()
    if value_type == GGUFValueType.BOOL:
        return "true" if value else "false"
    if value_type in (GGUFValueType.FLOAT32, GGUFValueType.FLOAT64):
        return _go_percent_f(value)
    return str(int(value))


def _go_percent_f(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:f}"


def _file_type_name(reader: GGUFReader) -> str:
    file_type = _scalar(reader, "general.file_type")
    if isinstance(file_type, int) and 0 <= file_type < len(_FILE_TYPE_NAMES):
        return _FILE_TYPE_NAMES[file_type]
    # No (known) file type in the header: name the most common tensor type, ignoring F32 norms.
    counts = Counter(t.tensor_type for t in reader.tensors)
    if not counts:
        return ""
    common = [kind for kind, _ in counts.most_common()]
    if common[0] == GGMLQuantizationType.F32 and len(common) > 1:
        return common[1].name
    return common[0].name
