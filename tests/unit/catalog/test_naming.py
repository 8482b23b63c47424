"""The naming pattern: names derived from a model's metadata, and names parsed back into their parts."""

import pytest

from compose_models.catalog.naming import (
    DEFAULT_PATTERN,
    NamePattern,
    OrgPrefix,
    check_family,
    context_label,
    name_fields,
    parameters_label,
)
from compose_models.errors import UserError

SMOLLM2_CONFIG = {
    "quantization": "Q4_1",
    "parameters": "134.52M",
    "context_size": 8192,
    "gguf": {"general.size_label": "135M"},
}
ORG = OrgPrefix.parse("localhost:5000/MyOrg")


def test_default_pattern_names_smollm2_from_its_metadata() -> None:
    fields = name_fields(SMOLLM2_CONFIG, "smollm2", ORG)
    assert NamePattern(DEFAULT_PATTERN).render(fields) == "localhost:5000/myorg/smollm2:135M-Q4_1-8k"


def test_optional_part_is_left_out_without_its_value() -> None:
    fields = name_fields({**SMOLLM2_CONFIG, "context_size": None}, "smollm2", ORG)
    assert NamePattern(DEFAULT_PATTERN).render(fields) == "localhost:5000/myorg/smollm2:135M-Q4_1"


def test_a_required_token_without_a_value_is_an_error() -> None:
    fields = name_fields({"parameters": "1B"}, "m", ORG)
    with pytest.raises(UserError, match="needs <quant>"):
        NamePattern(DEFAULT_PATTERN).render(fields)


def test_parse_gives_back_the_parts() -> None:
    pattern = NamePattern(DEFAULT_PATTERN)
    assert pattern.parse("localhost:5000/myorg/llama3.2:1B-Q4_K_M-128k", ORG) == {
        "org": "localhost:5000/myorg", "family": "llama3.2", "params": "1B", "quant": "Q4_K_M", "context": "128k",
    }  # fmt: skip
    assert pattern.parse("localhost:5000/myorg/llama3.2:1B-Q4_K_M", ORG) == {
        "org": "localhost:5000/myorg", "family": "llama3.2", "params": "1B", "quant": "Q4_K_M",
    }  # fmt: skip


@pytest.mark.parametrize(
    "name",
    [
        "localhost:5000/myorg/smollm2:latest",
        "localhost:5000/other/smollm2:135M-Q4_1-8k",
        "docker.io/myorg/smollm2:135M-Q4_1-8k",
        "localhost:5000/myorg/team/smollm2:135M-Q4_1-8k",
        "localhost:5000/myorg/smollm2:135M-Q4_1-8k-extra",
    ],
)
def test_names_off_the_pattern_do_not_parse(name: str) -> None:
    assert NamePattern(DEFAULT_PATTERN).parse(name, ORG) is None


def test_a_custom_pattern() -> None:
    pattern = NamePattern("<org>/<family>-<quant>:<params>")
    fields = name_fields(SMOLLM2_CONFIG, "smollm2", ORG)
    assert pattern.render(fields) == "localhost:5000/myorg/smollm2-Q4_1:135M"
    assert pattern.parse("localhost:5000/myorg/smollm2-Q4_1:135M", ORG) is not None


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("<org>/<family>:<size>", "unknown token <size>"),
        ("<org>/<family>:[<params>[-<quant>]]", "cannot be nested"),
        ("<org>/<family>:<params>]", "'\\]' without '\\['"),
        ("<org>/<family>:[<params>", "'\\[' without '\\]'"),
        ("<org>/model:<params>", "must contain <family>"),
        ("<family>:<params>", "must contain <org>"),
        ("<org>/<family>:<params>-<params>", "<params> appears twice"),
    ],
)
def test_bad_patterns_are_refused(pattern: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        NamePattern(pattern)


@pytest.mark.parametrize(
    ("config", "label"),
    [
        ({"parameters": "134.52M", "gguf": {"general.size_label": "135M"}}, "135M"),
        ({"parameters": "134.52M"}, "135M"),
        ({"parameters": "1.24B"}, "1.24B"),
        ({"parameters": "1.50B"}, "1.5B"),
        ({"parameters": "40"}, "40"),
        ({"parameters": "8.03B", "gguf": {"general.size_label": "8x7B"}}, "8.03B"),
        ({}, None),
    ],
)
def test_parameters_label(config: dict, label: str | None) -> None:
    assert parameters_label(config) == label


@pytest.mark.parametrize(("tokens", "label"), [(8192, "8k"), (131072, "128k"), (2048, "2k"), (1000, "1000")])
def test_context_label(tokens: int, label: str) -> None:
    assert context_label(tokens) == label


def test_org_prefix_normalises_like_references() -> None:
    assert str(OrgPrefix.parse("myorg")) == "docker.io/myorg"
    assert str(OrgPrefix.parse("registry.example.com/Team/ML/")) == "registry.example.com/team/ml"
    assert OrgPrefix.parse("registry.example.com/team").holds("team/smollm2")
    assert not OrgPrefix.parse("registry.example.com/team").holds("teams/smollm2")
    with pytest.raises(UserError, match="not a registry/organisation prefix"):
        OrgPrefix.parse("bad org!")


def test_family_must_be_a_reference_component() -> None:
    assert check_family("llama3.2") == "llama3.2"
    with pytest.raises(UserError, match="family 'Llama 3'"):
        check_family("Llama 3")
