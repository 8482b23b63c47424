import pytest

from compose_models.errors import UserError
from compose_models.store.reference import display_name, looks_like_digest, looks_like_id, normalize_reference

HEX64 = "0123456789abcdef" * 4

# DMR's normalize_test.go table, in the fully qualified storage form (docker.io/ added).
NORMALIZATION = [
    ("gemma3", "docker.io/ai/gemma3:latest"),
    ("gemma3:v1", "docker.io/ai/gemma3:v1"),
    ("myorg/model", "docker.io/myorg/model:latest"),
    ("myorg/model:v2", "docker.io/myorg/model:v2"),
    ("ai/gemma3:latest", "docker.io/ai/gemma3:latest"),
    ("registry.example.com/model", "registry.example.com/model:latest"),
    ("registry.example.com/model:v1", "registry.example.com/model:v1"),
    ("registry.example.com/myorg/model:v1", "registry.example.com/myorg/model:v1"),
    ("  gemma3  ", "docker.io/ai/gemma3:latest"),
    ("model:", "docker.io/ai/model:latest"),
    ("myorg/model:", "docker.io/myorg/model:latest"),
    ("abc123", "docker.io/ai/abc123:latest"),
    ("model-xyz", "docker.io/ai/model-xyz:latest"),
    ("MyModel", "docker.io/ai/mymodel:latest"),
    ("hf.co/org/model", "huggingface.co/org/model:latest"),
    ("hf.co/org/model:Q4_K_M", "huggingface.co/org/model:Q4_K_M"),
    ("huggingface.co/org/model", "huggingface.co/org/model:latest"),
    ("huggingface.co/org/model:Q4_K_M", "huggingface.co/org/model:Q4_K_M"),
    ("hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q8_0", "huggingface.co/bartowski/llama-3.2-1b-instruct-gguf:Q8_0"),
    # IDs are left for the store to resolve.
    ("1234567890ab", "1234567890ab"),
    (HEX64, HEX64),
    (f"sha256:{HEX64}", f"sha256:{HEX64}"),
    # Registry forms that distribution/reference recognises.
    ("docker.io/ai/smollm2", "docker.io/ai/smollm2:latest"),
    ("index.docker.io/ai/smollm2:360M", "docker.io/ai/smollm2:360M"),
    ("docker.io/library/smollm2", "docker.io/ai/smollm2:latest"),
    ("localhost:5000/x", "localhost:5000/x:latest"),
    ("localhost:5000/team/x:V1", "localhost:5000/team/x:V1"),
    ("127.0.0.1:5000/x:1", "127.0.0.1:5000/x:1"),
    (f"ai/smollm2@sha256:{HEX64}", f"docker.io/ai/smollm2@sha256:{HEX64}"),
]


@pytest.mark.parametrize(("reference", "expected"), NORMALIZATION)
def test_normalize_reference(reference: str, expected: str) -> None:
    assert normalize_reference(reference) == expected


@pytest.mark.parametrize(
    "bad", ["", "   ", "a b", "ai/Model!", "ai/x:bad/tag", "x@sha256:nothex", "ai//x", "ai/x:" + "t" * 200]
)
def test_malformed_references_are_user_errors(bad: str) -> None:
    with pytest.raises(UserError):
        normalize_reference(bad)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1234567890ab", True),
        (HEX64, True),
        ("12345", False),
        (HEX64 + "0", False),
        ("12345678xyz9", False),
        ("1234567890AB", False),
        ("", False),
        (f"sha256:{HEX64}", True),
        (f"sha512:{HEX64}", False),
        ("sha256:1234567890ab", False),
    ],
)
def test_looks_like_id(text: str, expected: bool) -> None:
    assert looks_like_id(text) is expected


def test_looks_like_digest_needs_the_prefix() -> None:
    assert looks_like_digest(f"sha256:{HEX64}")
    assert not looks_like_digest(HEX64)
    assert not looks_like_digest("sha256:")


@pytest.mark.parametrize(
    ("tag", "shown"),
    [
        ("docker.io/ai/gemma3:latest", "gemma3"),
        ("index.docker.io/ai/gemma3:latest", "gemma3"),
        ("docker.io/ai/gemma3:v1", "gemma3:v1"),
        ("docker.io/myorg/gemma3:latest", "myorg/gemma3"),
        ("ai/gemma3:latest", "gemma3"),
        ("huggingface.co/bartowski/model:latest", "huggingface.co/bartowski/model"),
        ("localhost:5000/x:v2", "localhost:5000/x:v2"),
    ],
)
def test_display_name_strips_defaults_like_docker_model_ls(tag: str, shown: str) -> None:
    assert display_name(tag) == shown


@pytest.mark.parametrize(
    ("tag", "listed"),
    [
        ("docker.io/ai/smollm2:latest", "ai/smollm2:latest"),
        ("index.docker.io/local/smollm2:135m-q4_1", "local/smollm2:135m-q4_1"),
        ("huggingface.co/org/repo:q4", "huggingface.co/org/repo:q4"),
        ("localhost:5000/team/m:v1", "localhost:5000/team/m:v1"),
    ],
)
def test_listed_name_drops_only_the_default_registry(tag: str, listed: str) -> None:
    from compose_models.store.reference import listed_name

    assert listed_name(tag) == listed
