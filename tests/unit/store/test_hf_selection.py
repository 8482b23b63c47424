"""Choosing the files of a Hugging Face repository as DMR does (reference §3.11)."""

import pytest

from compose_models.errors import UserError
from compose_models.store.hf_selection import RepoFile, select_files

QUANTISED = ["Model-Q4_K_M.gguf", "Model-Q8_0.gguf", "model.IQ4_XS.gguf", "Model-F16.gguf", "README.md", "LICENSE"]


def _repo(*paths: str) -> list[RepoFile]:
    return [RepoFile(path, 1) for path in paths]


def _weights(paths: list[str], tag: str) -> list[str]:
    return [file.path for file in select_files(_repo(*paths), tag, "org/repo").weights]


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("latest", ["Model-Q4_K_M.gguf"]),
        ("", ["Model-Q4_K_M.gguf"]),
        ("main", ["Model-Q4_K_M.gguf"]),
        ("Q8_0", ["Model-Q8_0.gguf"]),
        ("q8_0", ["Model-Q8_0.gguf"]),  # case-insensitive
        ("iq4_xs", ["model.IQ4_XS.gguf"]),  # "." separator
        ("f16", ["Model-F16.gguf"]),
        ("Q2_K", ["Model-Q4_K_M.gguf"]),  # no such quantisation: the default
        ("Q4_K", ["Model-Q4_K_M.gguf"]),  # a prefix of Q4_K_M is not Q4_K_M, so the default
    ],
)
def test_tag_chooses_the_quantisation(tag: str, expected: list[str]) -> None:
    assert _weights(QUANTISED, tag) == expected


def test_shards_of_the_chosen_quantisation_in_order() -> None:
    paths = ["m-Q8_0-00002-of-00002.gguf", "m-Q8_0-00001-of-00002.gguf", "m-Q4_K_M.gguf", "m-Q6_K.gguf"]
    assert _weights(paths, "Q8_0") == ["m-Q8_0-00001-of-00002.gguf", "m-Q8_0-00002-of-00002.gguf"]


def test_without_the_default_the_alphabetically_first_and_its_shards() -> None:
    paths = ["b-Q8_0.gguf", "a-Q5_K_S-00002-of-00002.gguf", "a-Q5_K_S-00001-of-00002.gguf"]
    assert _weights(paths, "latest") == ["a-Q5_K_S-00001-of-00002.gguf", "a-Q5_K_S-00002-of-00002.gguf"]


def test_projector_is_set_aside_and_f16_preferred() -> None:
    selection = select_files(_repo("m-Q4_K_M.gguf", "m-Q8_0.gguf", "mmproj-m-Q8_0.gguf", "mmproj-m-F16.gguf"), "", "o/r")
    assert [file.path for file in selection.weights] == ["m-Q4_K_M.gguf"]
    assert selection.mmproj is not None and selection.mmproj.path == "mmproj-m-F16.gguf"
    only_q8 = select_files(_repo("m-Q4_K_M.gguf", "m-Q8_0.gguf", "mmproj-m-Q8_0.gguf"), "", "o/r")
    assert only_q8.mmproj is not None and only_q8.mmproj.path == "mmproj-m-Q8_0.gguf"


def test_configs_kept_and_licenses_skipped() -> None:
    paths = ["model.safetensors", "config.json", "tokenizer.model", "vocab.vocab", "notes.txt", "README.md",
             "LICENSE.md", "NOTICE", "chat_template.json", "template.jinja", "model.dduf", "image.png"]  # fmt: skip
    selection = select_files(_repo(*paths), "latest", "o/r")
    assert not selection.is_gguf
    assert [file.path for file in selection.weights] == ["model.safetensors"]
    assert [file.path for file in selection.configs] == [
        "README.md", "chat_template.json", "config.json", "notes.txt", "template.jinja", "tokenizer.model", "vocab.vocab",
    ]  # fmt: skip
    assert selection.chat_template is not None and selection.chat_template.path == "chat_template.json"


def test_tokenizer_config_counts_as_a_chat_template() -> None:
    selection = select_files(_repo("m.gguf", "tokenizer_config.json", "config.json"), "", "o/r")
    assert selection.chat_template is not None and selection.chat_template.path == "tokenizer_config.json"


def test_quantisation_folder_named_by_the_tag() -> None:
    paths = ["README.md", "UD-Q4_K_XL/m-UD-Q4_K_XL-00001-of-00002.gguf", "UD-Q4_K_XL/m-UD-Q4_K_XL-00002-of-00002.gguf",
             "Q8_0/m-Q8_0.gguf"]  # fmt: skip
    assert _weights(paths, "ud-q4_k_xl") == [
        "UD-Q4_K_XL/m-UD-Q4_K_XL-00001-of-00002.gguf", "UD-Q4_K_XL/m-UD-Q4_K_XL-00002-of-00002.gguf",
    ]  # fmt: skip


def test_no_weights_is_a_clear_error() -> None:
    with pytest.raises(UserError, match="no model weight files .* org/empty"):
        select_files(_repo("README.md", "config.json"), "latest", "org/empty")
