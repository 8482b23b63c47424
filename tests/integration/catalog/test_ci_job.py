"""The CI job that docs/catalog.md gives teams, run as written against a registry that wants a login."""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from tests.conftest import REPO, run_cli
from tests.integration.catalog.conftest import new_catalog
from tests.integration.store.conftest import PASSWORD, USER

DOCS = REPO / "docs" / "catalog.md"


def test_the_documented_ci_job_lints_and_validates_every_published_tag(
    auth_registry: str, smollm2_gguf: Path, tmp_path: Path
) -> None:
    steps = {step.get("name", ""): step for step in _workflow()["jobs"]["gguf"]["steps"]}
    catalog = new_catalog(auth_registry, tmp_path / "catalog")
    environment = {key: value for key, value in os.environ.items() if key != "DOCKER_CONFIG"}
    environment |= {
        "HOME": str(tmp_path / "home"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "REGISTRY": auth_registry,
        "REGISTRY_USER": USER,
        "REGISTRY_PASSWORD": PASSWORD,
    }
    credentials = _run_step(steps, "Registry credentials", catalog.directory, environment)
    assert credentials.returncode == 0, credentials.stderr
    license_file = tmp_path / "LICENSE"
    license_file.write_text("MIT\n")
    run_cli(
        "catalog", "publish", "--gguf", str(smollm2_gguf), "--family", "smollm2", "--license", str(license_file),
        cwd=catalog.directory, env=environment,
    )  # fmt: skip

    checked = _run_step(steps, "Lint and validate", catalog.directory, environment)
    name = f"{catalog.org}/smollm2:135M-Q4_1-8k"
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"{name}: ok" in checked.stdout and f"validate {name}: passed" in checked.stdout


def _workflow() -> dict[str, Any]:
    text = DOCS.read_text()
    block = text.split("```yaml\n# .github/workflows/", 1)[1].split("```", 1)[0]
    return YAML(typ="safe").load(block.split("\n", 1)[1])


def _run_step(
    steps: dict[str, Any], name_start: str, directory: Path, environment: dict[str, str]
) -> subprocess.CompletedProcess:
    """One ``run:`` step, with the shell GitHub Actions uses for ``bash``."""
    [script] = [step["run"] for name, step in steps.items() if name.startswith(name_start)]
    command = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script]
    return subprocess.run(command, cwd=directory, env=environment, capture_output=True, text=True, timeout=300)
