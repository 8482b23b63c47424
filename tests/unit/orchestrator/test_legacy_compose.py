"""Copies without `models:` load in a Compose older than 2.38 as the originals load in 2.40 (both real binaries)."""

import json
import subprocess
from pathlib import Path

import pytest

from compose_models.orchestrator.legacy_compose import files_without_models
from tests.conftest import REPO, require

LEGACY = REPO / ".cache/compose-v2.37.3/docker-compose"


def _current_compose() -> Path:
    import compose

    return Path(compose.__file__).parent / "docker-compose"


def _services(binary: Path, files: list[Path], directory: Path) -> dict:
    arguments = [str(binary)]
    for path in files:
        arguments += ["-f", str(path)]
    result = subprocess.run(
        [*arguments, "-p", "demo", "--project-directory", str(directory), "config", "--format", "json"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["services"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "base").mkdir()
    (tmp_path / "base/common.yaml").write_text(
        "services:\n  base:\n    image: busybox:1.36\n    environment: {FROM_BASE: 'yes'}\n    models: [llm]\n"
        "models:\n  llm: {model: ai/smollm2}\n"
    )
    (tmp_path / "extra.yaml").write_text("services:\n  extra:\n    image: busybox:1.36\n    models: {llm: {endpoint_var: X}}\n")
    (tmp_path / "compose.yaml").write_text(
        "include: [extra.yaml]\n"
        "x-common: &common\n  restart: 'no'\n"
        "services:\n"
        "  app:\n    <<: *common\n    extends: {file: base/common.yaml, service: base}\n    command: [\"echo\", \"$$HOME\"]\n"
        "    models:\n      - llm\n"
        "models:\n  llm:\n    model: ai/smollm2\n    context_size: 2048\n"
    )
    return tmp_path


def test_copies_load_in_compose_2_37_like_the_originals_in_2_40(project: Path, tmp_path: Path) -> None:
    require(LEGACY.is_file(), f"Compose 2.37.3 at {LEGACY} (scripts/setup.sh fetches it)", linux_only=True)
    refused = subprocess.run(
        [str(LEGACY), "-f", str(project / "compose.yaml"), "config"], capture_output=True, text=True
    )
    assert refused.returncode != 0 and "models" in refused.stderr  # why the copies exist
    copies = files_without_models([project / "compose.yaml"], tmp_path / "copies")
    expected = _services(_current_compose(), [project / "compose.yaml"], project)
    for service in expected.values():
        service.pop("models", None)
    assert _services(LEGACY, copies, project) == expected
