"""catalog.yaml: defaults, and one-line errors that name the file, the line and the key."""

from pathlib import Path

import pytest

from compose_models.catalog.naming import DEFAULT_PATTERN
from compose_models.catalog.policy import load_policy
from compose_models.errors import UserError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(text)
    return path


def test_only_org_is_required(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, "org: registry.example.com/MyOrg\n"))
    assert str(policy.org_prefix) == "registry.example.com/myorg"
    assert policy.naming == DEFAULT_PATTERN
    assert policy.require_license is True
    assert policy.max_size is None
    assert policy.allows_quantization("anything")


def test_every_key(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, (
        "org: localhost:5000/team\n"
        "naming: '<org>/<family>:<quant>'\n"
        "require_license: false\n"
        "allowed_quantizations: [Q4_K_M, q8_0]\n"
        "max_size: 1.5GiB\n"
    )))  # fmt: skip
    assert policy.name_pattern.text == "<org>/<family>:<quant>"
    assert not policy.require_license
    assert policy.allows_quantization("Q8_0") and not policy.allows_quantization("Q4_1")
    assert policy.max_size == int(1.5 * 1024**3)


def test_the_current_directory_s_catalog_yaml_is_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "org: localhost:5000/team\n")
    monkeypatch.chdir(tmp_path)
    assert str(load_policy().org_prefix) == "localhost:5000/team"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("naming: '<org>/<family>'\n", r"catalog.yaml: org: Field required"),
        ("org: x/y\nmax_sise: 3GB\n", r"catalog.yaml:2: max_sise: unknown key \(expected one of org, naming,"),
        ("org: x/y\nmax_size: lots\n", r"catalog.yaml:2: max_size: could not parse"),
        ("org: x/y\nnaming: '<org>/<name>'\n", r"catalog.yaml:2: naming: naming pattern .* unknown token <name>"),
        ("org: 'Bad Org!'\n", r"catalog.yaml:1: org: 'Bad Org!' is not a registry/organisation prefix"),
        ("org: x/y\nrequire_license: maybe\n", r"catalog.yaml:2: require_license: Input should be a valid boolean"),
        ("org: [x\n", r"catalog.yaml:2: invalid YAML"),
        ("- org\n", r"catalog.yaml:1: top-level object must be a mapping"),
    ],
)
def test_errors_are_one_line_naming_file_line_and_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(UserError, match=message) as caught:
        load_policy(write(tmp_path, text))
    assert "\n" not in str(caught.value)


def test_a_missing_policy_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"nowhere.yaml: no catalog policy here; .* pass --policy FILE"):
        load_policy(tmp_path / "nowhere.yaml")
