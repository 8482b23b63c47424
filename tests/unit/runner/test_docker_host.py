"""Finding the engine the way the Docker CLI does, and telling the engine kinds apart."""

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from compose_models.docker_host import (
    COLIMA,
    DEFAULT_ENDPOINT,
    DESKTOP,
    LINUX,
    ORBSTACK,
    PODMAN,
    RANCHER,
    EngineLocation,
    engine_kind,
    is_local_address,
    locate_engine,
    rancher_containerd_problem,
)
from tests.conftest import require


def _context(config: Path, name: str, host: str) -> None:
    """A context stored as the Docker CLI stores it."""
    meta = config / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest() / "meta.json"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"Name": name, "Metadata": {}, "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": False}}}))


def test_docker_host_wins_over_every_context(tmp_path: Path) -> None:
    _context(tmp_path, "colima", "unix:///Users/me/.colima/default/docker.sock")
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "colima"}))
    environ = {"DOCKER_CONFIG": str(tmp_path), "DOCKER_HOST": "tcp://127.0.0.1:2375", "DOCKER_CONTEXT": "colima"}
    location = locate_engine(environ)
    assert (location.endpoint, location.source, location.context) == ("tcp://127.0.0.1:2375", "DOCKER_HOST", None)


def test_current_context_from_config_json(tmp_path: Path) -> None:
    _context(tmp_path, "orbstack", "unix:///Users/me/.orbstack/run/docker.sock")
    (tmp_path / "config.json").write_text(json.dumps({"auths": {}, "currentContext": "orbstack"}))
    location = locate_engine({"DOCKER_CONFIG": str(tmp_path)})
    assert location.endpoint == "unix:///Users/me/.orbstack/run/docker.sock"
    assert location.context == "orbstack"
    assert "currentContext" in location.source


def test_docker_context_variable_wins_over_config_json(tmp_path: Path) -> None:
    _context(tmp_path, "orbstack", "unix:///Users/me/.orbstack/run/docker.sock")
    _context(tmp_path, "rancher-desktop", "unix:///Users/me/.rd/docker.sock")
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "orbstack"}))
    location = locate_engine({"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "rancher-desktop"})
    assert (location.endpoint, location.source) == ("unix:///Users/me/.rd/docker.sock", "DOCKER_CONTEXT")


def test_default_context_and_no_config_mean_the_default_socket(tmp_path: Path) -> None:
    assert locate_engine({"DOCKER_CONFIG": str(tmp_path)}).endpoint == DEFAULT_ENDPOINT
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "default"}))
    assert locate_engine({"DOCKER_CONFIG": str(tmp_path)}).endpoint == DEFAULT_ENDPOINT


def test_a_context_that_does_not_exist_is_a_problem_not_the_default_socket(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "colima"}))
    location = locate_engine({"DOCKER_CONFIG": str(tmp_path)})
    assert location.endpoint is None
    assert "colima" in location.problem and "not found" in location.problem


def test_reads_a_context_the_real_docker_cli_created(tmp_path: Path) -> None:
    require(shutil.which("docker") is not None, "the docker CLI (the macOS CI runner has no Docker)", linux_only=True)
    environ = {"DOCKER_CONFIG": str(tmp_path), "PATH": "/usr/bin:/bin:/usr/local/bin"}
    subprocess.run(["docker", "context", "create", "vm-engine", "--docker", "host=unix:///tmp/vm-engine.sock"],
                   check=True, capture_output=True, env=environ)
    subprocess.run(["docker", "context", "use", "vm-engine"], check=True, capture_output=True, env=environ)
    location = locate_engine({"DOCKER_CONFIG": str(tmp_path)})
    assert (location.endpoint, location.context) == ("unix:///tmp/vm-engine.sock", "vm-engine")


# `docker info` / `docker version` as each engine answers them (fields trimmed to the ones that matter).
INFO = {
    DESKTOP: ({"OperatingSystem": "Docker Desktop", "Name": "docker-desktop", "OSType": "linux",
               "KernelVersion": "6.10.14-linuxkit", "ServerVersion": "28.0.1"}, None),
    ORBSTACK: ({"OperatingSystem": "OrbStack", "Name": "orbstack", "OSType": "linux",
                "KernelVersion": "6.12.5-orbstack-00287-gf8da5d508983", "ServerVersion": "27.4.1"}, None),
    COLIMA: ({"OperatingSystem": "Ubuntu 24.04.1 LTS", "Name": "colima", "OSType": "linux",
              "KernelVersion": "6.8.0-50-generic", "ServerVersion": "27.4.0"}, None),
    RANCHER: ({"OperatingSystem": "Alpine Linux v3.20", "Name": "lima-rancher-desktop", "OSType": "linux",
               "KernelVersion": "6.6.63-0-virt", "ServerVersion": "27.3.1"}, None),
    PODMAN: ({"OperatingSystem": "fedora", "Name": "localhost.localdomain", "OSType": "linux",
              "KernelVersion": "6.11.3-200.fc40.aarch64", "ServerVersion": "5.3.1"},
             {"Components": [{"Name": "Podman Engine", "Version": "5.3.1", "Details": {"APIVersion": "5.3.1"}}]}),
    LINUX: ({"OperatingSystem": "Debian GNU/Linux 12 (bookworm)", "Name": "build-host", "OSType": "linux",
             "KernelVersion": "6.1.0-28-amd64", "ServerVersion": "20.10.24+dfsg1"},
            {"Components": [{"Name": "Engine", "Version": "20.10.24+dfsg1"}]}),
}


@pytest.mark.parametrize("kind", list(INFO))
def test_engine_kind_from_docker_info(kind: str) -> None:
    info, version = INFO[kind]
    assert engine_kind(info, version) == kind


def test_colima_profile_and_podman_socket_path() -> None:
    assert engine_kind({"OperatingSystem": "Ubuntu 24.04.1 LTS", "Name": "colima-work"}) == COLIMA
    podman_socket = "unix:///Users/me/.local/share/containers/podman/machine/podman.sock"
    assert engine_kind({"OperatingSystem": "fedora", "Name": "localhost"}, None, podman_socket) == PODMAN


def test_only_this_machines_addresses_count_as_local() -> None:
    assert is_local_address("127.0.0.1")
    assert not is_local_address("203.0.113.77")  # TEST-NET-3, on no interface here
    assert not is_local_address("10.99.0.1")  # a VM engine's bridge gateway, inside the VM


# Rancher Desktop in containerd mode has no Docker API. The stand-in is a fake HOME holding what Rancher
# Desktop writes on a Mac: its settings file and its CLI folder (~/.rd/bin/nerdctl), with or without its
# Docker socket (~/.rd/docker.sock). No Rancher Desktop runs here.
def _rancher_home(home: Path, engine: str | None, nerdctl: bool = True, settings_version: int = 10) -> Path:
    if engine is not None:
        settings = home / "Library/Preferences/rancher-desktop/settings.json"
        settings.parent.mkdir(parents=True)
        document = ({"version": settings_version, "containerEngine": {"name": engine}} if settings_version >= 5
                    else {"version": settings_version, "kubernetes": {"containerEngine": engine}})  # fmt: skip
        settings.write_text(json.dumps(document))
    if nerdctl:
        (home / ".rd/bin").mkdir(parents=True)
        (home / ".rd/bin/nerdctl").write_text("#!/bin/sh\n")
    return home


def _rancher_context(home: Path) -> EngineLocation:
    return EngineLocation(f"unix://{home}/.rd/docker.sock", "rancher-desktop", "currentContext in config.json")


@pytest.mark.parametrize("settings_version", [10, 4])
def test_rancher_desktop_on_containerd_is_told_to_switch_to_moby(tmp_path: Path, settings_version: int) -> None:
    home = _rancher_home(tmp_path, "containerd", settings_version=settings_version)
    problem = rancher_containerd_problem(_rancher_context(home), home)
    assert problem == ("Rancher Desktop runs containerd (nerdctl); compose-models needs its dockerd (moby) engine: "
                       "Preferences → Container Engine → dockerd (moby)")  # fmt: skip
    # The default socket, which Rancher Desktop links in moby mode, gets the same answer.
    assert rancher_containerd_problem(EngineLocation(DEFAULT_ENDPOINT, "default", "the default socket"), home) == problem


def test_rancher_desktop_without_settings_or_socket_is_stopped_or_on_containerd(tmp_path: Path) -> None:
    home = _rancher_home(tmp_path, None)
    problem = rancher_containerd_problem(_rancher_context(home), home)
    assert problem is not None and "stopped, or runs containerd (nerdctl)" in problem and "dockerd (moby)" in problem


def test_no_rancher_hint_for_moby_another_engine_or_no_rancher(tmp_path: Path) -> None:
    moby = _rancher_home(tmp_path / "moby", "moby")
    assert rancher_containerd_problem(_rancher_context(moby), moby) is None  # a stopped moby: "start your engine"
    containerd = _rancher_home(tmp_path / "containerd", "containerd")
    colima = EngineLocation("unix:///Users/me/.colima/default/docker.sock", "colima", "currentContext in config.json")
    assert rancher_containerd_problem(colima, containerd) is None  # the user chose colima: not Rancher's business
    (tmp_path / "none").mkdir()
    assert rancher_containerd_problem(_rancher_context(tmp_path / "none"), tmp_path / "none") is None
