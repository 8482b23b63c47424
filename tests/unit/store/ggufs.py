"""Tiny real model files for tests: GGUF (written with the gguf library) and safetensors."""

import json
import struct
from pathlib import Path

import numpy as np
from gguf import GGUFWriter

CHAT_TEMPLATE = "<|im_start|>{{ role }} & more<|im_end|>"


def write_gguf(
    path: Path,
    context_length: int = 2048,
    file_type: int = 7,
    extra_strings: dict[str, str] | None = None,
    tensor_rows: int = 4,
) -> Path:
    """A one-tensor llama GGUF (Q8_0 file type by default) with a few typical header values."""
    writer = GGUFWriter(str(path), "llama")
    writer.add_name("tiny test model")
    writer.add_context_length(context_length)
    writer.add_file_type(file_type)
    writer.add_float32("llama.rope.freq_base", 10000.0)
    writer.add_float32("llama.attention.layer_norm_rms_epsilon", 1e-5)
    writer.add_bool("tokenizer.ggml.add_bos_token", True)
    writer.add_array("general.languages", ["en", "fr"])
    writer.add_array("tokenizer.ggml.tokens", [f"t{i}" for i in range(60)])
    writer.add_chat_template(CHAT_TEMPLATE)
    for key, value in (extra_strings or {}).items():
        writer.add_string(key, value)
    writer.add_tensor("token_embd.weight", np.arange(tensor_rows * 8, dtype=np.float32).reshape(tensor_rows, 8))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def write_safetensors(path: Path, rows: int, dtype: str = "F32") -> Path:
    header = json.dumps({
        "__metadata__": {"format": "pt"},
        "weight": {"dtype": dtype, "shape": [rows, 4], "data_offsets": [0, rows * 16]},
    }).encode()  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack("<Q", len(header)) + header + bytes(rows * 16))
    return path
