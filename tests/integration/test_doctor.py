"""``compose-models doctor`` on this machine's real engine, and with no engine at all."""

import json
import os
from pathlib import Path

import pytest

from tests.conftest import REPO, free_port, require_docker_and_busybox, run_cli
from tests.rancher_stand_in import plant_rancher_desktop_on_containerd
from tests.stand_in_llama_server import CRASH_ON_FIRST_ANSWER, METAL_DEVICES, write_stand_in

CHECKS = ["Docker engine", "runner port", "container route", "docker-model plugin", "llama-cpp-python build",
          "GPU offload", "memory budget", "model store"]  # fmt: skip


def _checks(result) -> dict[str, dict]:
    return {check["check"]: check for check in json.loads(result.stdout)["checks"]}


def test_doctor_finds_the_route_a_container_takes_and_proven_builds(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_docker_and_busybox()
    monkeypatch.setenv("COMPOSE_MODELS_PORT", str(free_port()))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))  # no docker-model plugin in it
    try:
        result = run_cli("doctor", "--json", check=False)
    finally:
        run_cli("stop", check=False)
    checks = _checks(result)
    assert set(CHECKS) <= set(checks), list(checks)
    assert result.returncode == 0, result.stdout + result.stderr
    assert checks["container route"]["status"] == "ok"
    assert "a container on this engine reaches http://" in checks["container route"]["found"]
    assert "smoke test gave token" in checks["llama-cpp-python build"]["found"]
    # No plugin is installed in this test's DOCKER_CONFIG: said, with the fix; once installed, found.
    assert checks["docker-model plugin"]["status"] == "warn" and "compose-models install" in checks["docker-model plugin"]["fix"]
    run_cli("install")
    plugin = _checks(run_cli("doctor", "--json", check=False))["docker-model plugin"]
    run_cli("stop", check=False)
    assert plugin["status"] == "ok" and "Docker runs ours" in plugin["found"], plugin


def test_doctor_fails_with_the_fix_when_no_engine_answers(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    result = run_cli("doctor", "--json", check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    checks = _checks(result)
    assert checks["Docker engine"]["status"] == "fail" and "no-engine.sock" in checks["Docker engine"]["found"]
    assert "start your engine" in checks["Docker engine"]["fix"]
    assert checks["container route"]["status"] == "fail"
    table = run_cli("doctor", check=False)
    assert table.returncode == 1 and "Docker engine" in table.stdout and "Traceback" not in table.stdout + table.stderr


def test_doctor_describes_a_llama_server_without_a_build_record_by_its_device_list(tmp_path, monkeypatch) -> None:
    """A stand-in for Homebrew's Metal llama-server (tests/stand_in_llama_server.py; no Mac here): no build
    record beside it, and its device list names the GPU as current ggml does, ``MTL0``."""
    binary, _ = write_stand_in(tmp_path / "homebrew-bin", CRASH_ON_FIRST_ANSWER, METAL_DEVICES)
    monkeypatch.setenv("LLAMA_SERVER_PATH", str(binary))
    monkeypatch.setenv("COMPOSE_MODELS_CACHE", str(tmp_path / "cache"))  # its smoke-test verdict stays here
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")  # the route is not what is tested
    monkeypatch.delenv("COMPOSE_MODELS_MEMORY_BUDGET", raising=False)
    result = run_cli("doctor", "--json", check=False)
    assert "Traceback" not in result.stdout + result.stderr
    checks = _checks(result)
    assert checks["llama-server build"]["found"].startswith(f"0 (stand-in) at {binary}, metal, "), checks["llama-server build"]
    assert checks["GPU offload"]["status"] == "ok" and checks["GPU offload"]["found"].startswith("metal: "), checks["GPU offload"]
    # Not a Mac: the default budget is 75% of RAM, and doctor says so.
    assert checks["memory budget"]["status"] == "ok" and "(75% of " in checks["memory budget"]["found"], checks["memory budget"]


def _rancher_desktop_on_containerd(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rancher Desktop on containerd (tests/rancher_stand_in.py) in a fake HOME and DOCKER_CONFIG."""
    home, config = tmp_path / "home", tmp_path / "docker-config"
    plant_rancher_desktop_on_containerd(home, config)
    # The engine builds' verdicts stay where this machine keeps them, so doctor does not rerun their smoke tests.
    monkeypatch.setenv("XDG_CACHE_HOME", os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache"))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)


RANCHER_CONTAINERD = ("Rancher Desktop runs containerd (nerdctl); compose-models needs its dockerd (moby) engine: "
                      "Preferences → Container Engine → dockerd (moby)")  # fmt: skip


def test_doctor_tells_rancher_desktop_on_containerd_to_switch_to_moby(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    _rancher_desktop_on_containerd(tmp_path, monkeypatch)
    result = run_cli("doctor", "--json", check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    engine = _checks(result)["Docker engine"]
    assert engine["status"] == "fail" and engine["found"].startswith(RANCHER_CONTAINERD), engine
    assert ".rd/docker.sock" in engine["found"]  # what did not answer, still said
    assert "dockerd (moby)" in engine["fix"] and "start your engine" not in engine["fix"], engine


def test_up_refuses_on_rancher_desktop_containerd_before_starting_anything(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    _rancher_desktop_on_containerd(tmp_path, monkeypatch)
    result = run_cli("up", "-f", str(REPO / "examples/compose/hello/compose.yaml"), check=False, timeout=120)
    assert result.returncode != 0, result.stdout + result.stderr
    assert RANCHER_CONTAINERD in result.stderr, result.stderr
    assert not (Path(os.environ["COMPOSE_MODELS_HOME"]) / "runner" / "state.json").exists()  # no runner was started
