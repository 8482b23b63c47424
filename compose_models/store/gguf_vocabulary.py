"""A GGUF's tokenizer, as far as speculative decoding cares: a draft model must propose tokens the target
reads as the same text.

The rule is llama.cpp's own check of a draft against its target (``common_speculative_are_compatible``):
the same tokenizer kind, the same BOS and EOS tokens, vocabulary sizes within 128 of each other, and the
same text for every token the two have in common (from token 5 on, past the special tokens whose text
converters spell differently).
"""

import mmap
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from compose_models.store.errors import InvalidArtifact

MAX_SIZE_DIFFERENCE = 128
_CHECK_FROM = 5


@dataclass(frozen=True)
class Vocabulary:
    kind: str  # tokenizer.ggml.model: llama (SentencePiece), gpt2 (BPE), bert (WordPiece)...
    tokens: tuple[str, ...]
    bos: int | None
    eos: int | None


# GGUF value types: their sizes when fixed; 8 is a string, 9 an array
_FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_INTEGERS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 10: "<Q", 11: "<q"}
_STRING, _ARRAY = 8, 9
_WANTED = ("tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id")


@lru_cache(maxsize=16)
def read_vocabulary(path: Path) -> Vocabulary:
    """The tokenizer keys of a GGUF's header, read straight from it (the gguf package's reader parses every
    array element into its own object, seconds for a 50k-token vocabulary)."""
    try:
        with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
            found = _tokenizer_keys(data)
    except (OSError, ValueError, struct.error, UnicodeDecodeError) as error:
        raise InvalidArtifact(f"{path} is not a readable GGUF file: {error}") from None
    tokens, bos, eos = found.get("tokenizer.ggml.tokens"), found.get("tokenizer.ggml.bos_token_id"), found.get("tokenizer.ggml.eos_token_id")
    return Vocabulary(
        kind=str(found.get("tokenizer.ggml.model") or "none"),
        tokens=tuple(tokens) if isinstance(tokens, list) else (),
        bos=bos if isinstance(bos, int) else None,
        eos=eos if isinstance(eos, int) else None,
    )


def _tokenizer_keys(data: mmap.mmap) -> dict[str, object]:
    if data[:4] != b"GGUF":
        raise ValueError("it does not start with the GGUF magic bytes")
    (count,) = struct.unpack_from("<Q", data, 16)
    offset, found = 24, {}
    for _ in range(count):
        key, offset = _string(data, offset)
        (kind,) = struct.unpack_from("<I", data, offset)
        value, offset = _value(data, offset + 4, kind, keep=key in _WANTED)
        if key in _WANTED:
            found[key] = value
    return found


def _string(data: mmap.mmap, offset: int) -> tuple[str, int]:
    (length,) = struct.unpack_from("<Q", data, offset)
    end = offset + 8 + length
    if end > len(data):
        raise ValueError("a string runs past the end of the file")
    return data[offset + 8 : end].decode("utf-8", errors="replace"), end


def _value(data: mmap.mmap, offset: int, kind: int, keep: bool) -> tuple[object, int]:
    if kind == _STRING:
        return _string(data, offset)
    if kind == _ARRAY:
        item_kind, length = struct.unpack_from("<IQ", data, offset)
        offset += 12
        if item_kind in _FIXED:  # numbers: not needed, skipped whole
            return None, offset + length * _FIXED[item_kind]
        items = []
        for _ in range(length):
            item, offset = _value(data, offset, item_kind, keep)
            if keep:
                items.append(item)
        return items, offset
    if kind not in _FIXED:
        raise ValueError(f"unknown GGUF value type {kind}")
    value = struct.unpack_from(_INTEGERS[kind], data, offset)[0] if kind in _INTEGERS else None
    return value, offset + _FIXED[kind]


def mismatch(target: Vocabulary, draft: Vocabulary) -> str | None:
    """How ``draft``'s vocabulary differs from ``target``'s so that it cannot draft for it; None if it can."""
    if draft.kind != target.kind:
        return f"its tokenizer is {draft.kind!r}, the model's is {target.kind!r}"
    if abs(len(draft.tokens) - len(target.tokens)) > MAX_SIZE_DIFFERENCE:
        return (f"its vocabulary has {len(draft.tokens)} tokens, the model's {len(target.tokens)} "
                f"(at most {MAX_SIZE_DIFFERENCE} apart)")  # fmt: skip
    if (draft.bos, draft.eos) != (target.bos, target.eos):
        return f"its BOS/EOS tokens are {draft.bos}/{draft.eos}, the model's {target.bos}/{target.eos}"
    for index in range(_CHECK_FROM, min(len(draft.tokens), len(target.tokens))):
        if draft.tokens[index] != target.tokens[index]:
            return f"its token {index} is {draft.tokens[index]!r}, the model's is {target.tokens[index]!r}"
    return None
