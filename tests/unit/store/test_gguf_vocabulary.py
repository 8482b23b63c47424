"""Whether a draft model's vocabulary fits its target's: llama.cpp's rule, on vocabularies read from real GGUFs."""

from pathlib import Path

import pytest

from compose_models.errors import UserError
from compose_models.runner.backends.smoke_model import write_smoke_model
from compose_models.store.gguf_vocabulary import Vocabulary, mismatch, read_vocabulary

TOKENS = tuple(f"t{index}" for index in range(300))
TARGET = Vocabulary("gpt2", TOKENS, 1, 2)


def test_the_header_is_read_as_the_gguf_package_reads_it(tmp_path: Path) -> None:
    from gguf import GGUFReader

    path = write_smoke_model(tmp_path / "smoke.gguf")
    vocabulary = read_vocabulary(path)
    assert vocabulary.kind == "llama" and (vocabulary.bos, vocabulary.eos) == (1, 2)
    assert list(vocabulary.tokens) == GGUFReader(path).get_field("tokenizer.ggml.tokens").contents()


def test_a_file_that_is_no_gguf_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "x.gguf"
    path.write_bytes(b"not a gguf at all, just text")
    with pytest.raises(UserError, match="x.gguf is not a readable GGUF file"):
        read_vocabulary(path)


@pytest.mark.parametrize(
    ("draft", "said"),
    [
        (Vocabulary("llama", TOKENS, 1, 2), "its tokenizer is 'llama', the model's is 'gpt2'"),
        (Vocabulary("gpt2", TOKENS[:100], 1, 2), "its vocabulary has 100 tokens, the model's 300 (at most 128 apart)"),
        (Vocabulary("gpt2", TOKENS, 0, 2), "its BOS/EOS tokens are 0/2, the model's 1/2"),
        (Vocabulary("gpt2", (*TOKENS[:7], "other", *TOKENS[8:]), 1, 2), "its token 7 is 'other', the model's is 't7'"),
    ],
)
def test_a_draft_that_reads_tokens_otherwise_is_told_apart(draft: Vocabulary, said: str) -> None:
    assert mismatch(TARGET, draft) == said


def test_a_draft_with_the_same_tokens_fits_even_with_a_few_more_or_other_special_ones() -> None:
    assert mismatch(TARGET, TARGET) is None
    assert mismatch(TARGET, Vocabulary("gpt2", ("<s>", *TOKENS[1:], *[f"x{i}" for i in range(100)]), 1, 2)) is None
