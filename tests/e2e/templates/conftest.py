"""Fixtures for the stack templates' end-to-end tests: each template written by ``compose-models init`` into a
folder of the test's, built on a local Python base image and run against the real model.

No image can be pulled here, so the templates' ``FROM python:3.12-slim`` is replaced, through their
``PYTHON_IMAGE`` build argument, by an image scripts/base-image.sh builds once per machine: a Debian rootfs
made with ``debootstrap --variant=minbase``, imported into Docker, with the SDK wheels installed into it from
this machine's pip."""

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, free_port, require, require_docker_and_busybox, run_cli


def docker_compose(folder: Path, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    """An unmodified ``docker compose -f FOLDER/compose.yaml ARGS``, as a user runs it; fails the test on a
    non-zero exit unless ``check`` is false."""
    result = subprocess.run(
        ["docker", "compose", "-f", str(folder / "compose.yaml"), *args], capture_output=True, text=True, timeout=timeout
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="session")
def python_base_image() -> str:
    require_docker_and_busybox()
    require(Path("/usr/sbin/debootstrap").exists() or sys.platform != "linux", "debootstrap, for the templates' base image")
    built = subprocess.run([str(REPO / "scripts/base-image.sh")], capture_output=True, text=True, timeout=900)
    assert built.returncode == 0, f"scripts/base-image.sh failed:\n{built.stderr}"
    return built.stdout.strip().splitlines()[-1]


@pytest.fixture
def template_stack(
    python_base_image: str, packaged_smollm2: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Path]]:
    """``template_stack(name, slot=ref, ...)`` writes a template with ``compose-models init`` and returns its
    folder. The stack builds on the local base image and reaches a runner on a free port; every stack
    written is taken down, and the runner stopped, afterwards."""
    monkeypatch.setenv("PYTHON_IMAGE", python_base_image)
    monkeypatch.setenv("COMPOSE_MODELS_PORT", str(free_port()))
    # One project name per test, read by compose-models and by an unmodified `docker compose` alike.
    monkeypatch.setenv("COMPOSE_PROJECT_NAME", f"tpl-{uuid.uuid4().hex[:8]}")
    # Compose finds `compose-models` on PATH for provider services and the docker-model plugin.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    written: list[Path] = []

    def write(name: str, **models: str) -> Path:
        folder = tmp_path / f"{name}-stack"
        choices = [argument for slot, reference in models.items() for argument in ("--model", f"{slot}={reference}")]
        run_cli("init", name, str(folder), *choices)
        written.append(folder)
        return folder

    yield write
    for folder in written:
        run_cli("down", "-f", str(folder / "compose.yaml"), "--", "--timeout", "0", "--rmi", "local", check=False)
    run_cli("stop", check=False)
