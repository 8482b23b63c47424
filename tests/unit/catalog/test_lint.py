"""Lint rules on small real artifacts: each violation is reported on its own, with its reason."""

from pathlib import Path

import pytest

from compose_models.catalog.lint import lint_model
from compose_models.catalog.policy import CatalogPolicy
from compose_models.store import ModelStore, StoredModel, package_gguf
from tests.unit.store.ggufs import write_gguf

POLICY = CatalogPolicy(org="localhost:5000/team", allowed_quantizations=["Q8_0", "Q4_K_M"], max_size="1MiB")
GOOD_NAME = "localhost:5000/team/tiny:1B-Q8_0-2k"


@pytest.fixture
def license_file(tmp_path: Path) -> Path:
    path = tmp_path / "LICENSE"
    path.write_text("Apache-2.0")
    return path


def packaged(
    tmp_path: Path, name: str, licenses: list[Path], context_length: int = 2048, file_type: int = 7
) -> StoredModel:
    """A one-tensor Q8_0 GGUF (size label 1B, 2k context by default) packaged as ``name``."""
    gguf = write_gguf(tmp_path / "tiny.gguf", context_length, file_type, extra_strings={"general.size_label": "1B"})
    return package_gguf(ModelStore(tmp_path / "store"), gguf, name, licenses=licenses)


def test_a_conforming_model_has_no_violations(tmp_path: Path, license_file: Path) -> None:
    assert lint_model(packaged(tmp_path, GOOD_NAME, [license_file]), GOOD_NAME, POLICY) == []


def test_without_a_license(tmp_path: Path) -> None:
    assert lint_model(packaged(tmp_path, GOOD_NAME, []), GOOD_NAME, POLICY) == [
        "license: the artifact has no license layer (the policy requires one: package with --license FILE)"
    ]
    relaxed = POLICY.model_copy(update={"require_license": False})
    assert lint_model(packaged(tmp_path, GOOD_NAME, []), GOOD_NAME, relaxed) == []


@pytest.mark.parametrize("name", ["localhost:5000/team/tiny:latest", "localhost:5000/other/tiny:1B-Q8_0-2k", "tiny"])
def test_a_name_off_the_pattern(tmp_path: Path, license_file: Path, name: str) -> None:
    [violation] = lint_model(packaged(tmp_path, name, [license_file]), name, POLICY)
    assert violation.startswith("name: ") and "does not follow the naming pattern" in violation
    assert "(with <org> = localhost:5000/team)" in violation


def test_a_name_that_disagrees_with_the_metadata(tmp_path: Path, license_file: Path) -> None:
    name = "localhost:5000/team/tiny:7B-Q4_K_M-4k"
    assert lint_model(packaged(tmp_path, name, [license_file]), name, POLICY) == [
        "name: the tag says parameters 7B but the model's metadata gives 1B",
        "name: the tag says quantization Q4_K_M but the model's metadata gives Q8_0",
        "name: the tag says context size 4k but the model's metadata gives 2k",
    ]


def test_quantization_outside_the_allowed_list(tmp_path: Path, license_file: Path) -> None:
    name = "localhost:5000/team/tiny:1B-Q4_1-2k"
    assert lint_model(packaged(tmp_path, name, [license_file], file_type=3), name, POLICY) == [
        "quantization: Q4_1 is not allowed by the policy (allowed: Q8_0, Q4_K_M)"
    ]


def test_over_the_maximum_size(tmp_path: Path, license_file: Path) -> None:
    small = POLICY.model_copy(update={"max_size": 100})
    [violation] = lint_model(packaged(tmp_path, GOOD_NAME, [license_file]), GOOD_NAME, small)
    assert violation.startswith("size: the artifact is ") and "over the policy's maximum of 100B" in violation


def test_a_config_that_does_not_record_the_context_size(tmp_path: Path, license_file: Path) -> None:
    name = "localhost:5000/team/tiny:1B-Q8_0"
    assert lint_model(packaged(tmp_path, name, [license_file], context_length=0), name, POLICY) == [
        "config: context_size is not recorded in the model's config"
    ]
