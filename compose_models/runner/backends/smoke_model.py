"""A tiny llama GGUF, written on the spot, that an engine can load and compute one token with.

It is no language model (its weights are seeded noise) but it takes the path that crashes a badly
built llama.cpp: Q8_0 weights through the CPU's matrix-multiply kernels. One layer, 64-wide, a
byte-level SentencePiece vocabulary so any prompt tokenizes; well under 1 MB.
"""

from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType, GGUFWriter, TokenType
from gguf.quants import quantize

_EMBEDDING = 64
_FEED_FORWARD = 128
_HEADS = 2
_CONTEXT = 128


def _vocabulary() -> tuple[list[str], list[int]]:
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{byte:02X}>" for byte in range(256)] + ["▁a", "▁b", "▁c", "▁d"]
    types = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL] + [TokenType.BYTE] * 256 + [TokenType.NORMAL] * 4
    return tokens, [int(kind) for kind in types]


def write_smoke_model(path: Path) -> Path:
    tokens, types = _vocabulary()
    rng = np.random.default_rng(0)

    def matrix(rows: int, columns: int) -> np.ndarray:
        return quantize(rng.normal(0, 0.05, (rows, columns)).astype(np.float32), GGMLQuantizationType.Q8_0)

    writer = GGUFWriter(str(path), "llama")
    writer.add_name("compose-models smoke test")
    writer.add_context_length(_CONTEXT)
    writer.add_embedding_length(_EMBEDDING)
    writer.add_block_count(1)
    writer.add_feed_forward_length(_FEED_FORWARD)
    writer.add_head_count(_HEADS)
    writer.add_head_count_kv(_HEADS)
    writer.add_rope_dimension_count(_EMBEDDING // _HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(7)  # mostly Q8_0
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0] * len(tokens))
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    q8 = GGMLQuantizationType.Q8_0
    writer.add_tensor("token_embd.weight", matrix(len(tokens), _EMBEDDING), raw_dtype=q8)
    writer.add_tensor("output_norm.weight", np.ones(_EMBEDDING, dtype=np.float32))
    writer.add_tensor("output.weight", matrix(len(tokens), _EMBEDDING), raw_dtype=q8)
    writer.add_tensor("blk.0.attn_norm.weight", np.ones(_EMBEDDING, dtype=np.float32))
    for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
        writer.add_tensor(f"blk.0.{name}.weight", matrix(_EMBEDDING, _EMBEDDING), raw_dtype=q8)
    writer.add_tensor("blk.0.ffn_norm.weight", np.ones(_EMBEDDING, dtype=np.float32))
    writer.add_tensor("blk.0.ffn_gate.weight", matrix(_FEED_FORWARD, _EMBEDDING), raw_dtype=q8)
    writer.add_tensor("blk.0.ffn_up.weight", matrix(_FEED_FORWARD, _EMBEDDING), raw_dtype=q8)
    writer.add_tensor("blk.0.ffn_down.weight", matrix(_EMBEDDING, _FEED_FORWARD), raw_dtype=q8)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
