"""Tiny real GGUF models that llama.cpp loads, written by the tests themselves: a reranker (a one-layer BERT
cross-encoder that pools by rank) and a llama with a vocabulary of its own. Their weights are seeded noise:
their scores and tokens are deterministic but mean nothing."""

from pathlib import Path

import numpy as np
from gguf import GGUFWriter, PoolingType, TokenType

from compose_models.runner.backends.smoke_model import write_smoke_model

_WIDTH, _FEED_FORWARD, _CONTEXT = 32, 64, 512


def _word_piece_vocabulary() -> tuple[list[str], list[int]]:
    """BERT's special tokens, then every lowercase letter and digit as a word start (``▁a``) and a piece (``a``):
    any lowercase ASCII text tokenizes."""
    characters = [chr(code) for code in range(ord("a"), ord("z") + 1)] + [str(digit) for digit in range(10)]
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"] + ["▁" + character for character in characters] + characters
    types = [TokenType.CONTROL, TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL]
    types += [TokenType.NORMAL] * (2 * len(characters))
    return tokens, [int(kind) for kind in types]


def write_tiny_reranker(path: Path) -> Path:
    """A BERT cross-encoder GGUF with a one-score classifier head (``cls.output``) and ``bert.pooling_type`` rank."""
    tokens, types = _word_piece_vocabulary()
    rng = np.random.default_rng(7)

    def matrix(rows: int, columns: int) -> np.ndarray:
        return rng.normal(0, 0.2, (rows, columns)).astype(np.float32)

    def bias(size: int) -> np.ndarray:
        return rng.normal(0, 0.05, size).astype(np.float32)

    writer = GGUFWriter(str(path), "bert")
    writer.add_name("compose-models tiny reranker")
    writer.add_context_length(_CONTEXT)
    writer.add_embedding_length(_WIDTH)
    writer.add_block_count(1)
    writer.add_feed_forward_length(_FEED_FORWARD)
    writer.add_head_count(2)
    writer.add_layer_norm_eps(1e-12)
    writer.add_causal_attention(False)
    writer.add_pooling_type(PoolingType.RANK)
    writer.add_file_type(0)  # all F32
    writer.add_tokenizer_model("bert")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_type_count(2)
    writer.add_bos_token_id(2)
    writer.add_eos_token_id(3)
    writer.add_sep_token_id(3)
    writer.add_unk_token_id(1)
    writer.add_pad_token_id(0)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(True)
    writer.add_tensor("token_embd.weight", matrix(len(tokens), _WIDTH))
    writer.add_tensor("token_types.weight", matrix(2, _WIDTH))
    writer.add_tensor("position_embd.weight", matrix(_CONTEXT, _WIDTH))
    for norm in ("token_embd_norm", "blk.0.attn_output_norm", "blk.0.layer_output_norm"):
        writer.add_tensor(f"{norm}.weight", np.ones(_WIDTH, np.float32))
        writer.add_tensor(f"{norm}.bias", np.zeros(_WIDTH, np.float32))
    for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
        writer.add_tensor(f"blk.0.{name}.weight", matrix(_WIDTH, _WIDTH))
        writer.add_tensor(f"blk.0.{name}.bias", bias(_WIDTH))
    writer.add_tensor("blk.0.ffn_up.weight", matrix(_FEED_FORWARD, _WIDTH))
    writer.add_tensor("blk.0.ffn_up.bias", bias(_FEED_FORWARD))
    writer.add_tensor("blk.0.ffn_down.weight", matrix(_WIDTH, _FEED_FORWARD))
    writer.add_tensor("blk.0.ffn_down.bias", bias(_WIDTH))
    writer.add_tensor("cls.weight", matrix(_WIDTH, _WIDTH))
    writer.add_tensor("cls.bias", bias(_WIDTH))
    writer.add_tensor("cls.output.weight", matrix(1, _WIDTH))
    writer.add_tensor("cls.output.bias", bias(1))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def write_other_vocabulary_llama(path: Path) -> Path:
    """A one-layer llama whose vocabulary (263 byte-level SentencePiece tokens) is not SmolLM2's."""
    return write_smoke_model(path)
