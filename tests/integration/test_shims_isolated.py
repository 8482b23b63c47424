"""The shims Docker and Compose run, and the runner they start, never run code from the current folder (a
cloned repository's): `python -m` would put it first on sys.path, before the installed compose_models."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, docker_available, require, run_cli


def _plant(folder: Path, marker: Path) -> Path:
    """A repository that holds its own ``compose_models`` (and ``llama_cpp``) package, which leaves ``marker``
    when it is imported."""
    for package in ("compose_models", "llama_cpp"):
        (folder / package).mkdir(parents=True)
        (folder / package / "__init__.py").write_text(
            f"open({str(marker)!r}, 'a').write({package!r} + ' ran from the current folder\\n')\n"
        )
    return folder


@pytest.fixture
def planted(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "planted-code-ran"
    return _plant(tmp_path / "cloned-repository", marker), marker


def test_the_installed_shims_do_not_run_the_current_folders_code(
    planted: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require(docker_available(), "a running Docker engine, for `compose-models install`")
    repository, marker = planted
    provider_dir = tmp_path / "bin"
    monkeypatch.setenv("PATH", f"{provider_dir}{os.pathsep}{os.environ['PATH']}")
    run_cli("install", "--provider-dir", str(provider_dir))
    plugin = Path(os.environ["DOCKER_CONFIG"]) / "cli-plugins" / "docker-model"
    # A project's .env, which Compose passes to the provider, cannot point Python elsewhere either.
    hostile = {**os.environ, "PYTHONPATH": str(repository)}

    metadata = subprocess.run(
        [str(plugin), "docker-cli-plugin-metadata"], cwd=repository, capture_output=True, text=True, timeout=60, env=hostile
    )
    assert metadata.returncode == 0 and json.loads(metadata.stdout)["SchemaVersion"] == "0.1.0", metadata.stderr
    version = subprocess.run([str(plugin), "version"], cwd=repository, capture_output=True, text=True, timeout=60, env=hostile)
    assert version.returncode == 0 and "compose-models" in version.stdout, version.stderr
    provider = subprocess.run(
        [str(provider_dir / "compose-models"), "compose", "metadata"],
        cwd=repository, capture_output=True, text=True, timeout=60, env=hostile,
    )  # fmt: skip
    assert provider.returncode == 0 and "up" in json.loads(provider.stdout), provider.stderr
    assert not marker.exists(), marker.read_text()


def test_a_runner_started_from_a_cloned_repository_does_not_run_its_code(planted: tuple[Path, Path]) -> None:
    """`compose-models up` (or the plugin) in a repository starts the runner, which starts engines: none of them
    may import the repository's packages."""
    repository, marker = planted
    console_script = Path(sys.executable).parent / "compose-models"
    require(console_script.is_file(), f"the compose-models console script beside {sys.executable} (pip install -e .)")
    started = subprocess.run(
        [str(console_script), "serve", "--detach"], cwd=repository, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert started.returncode == 0, started.stdout + started.stderr
    assert "running on port" in started.stdout
    assert not marker.exists(), marker.read_text()
