"""Metal as llama.cpp reports it (``MTL0``), the memory budget Metal can hold, and Python under Rosetta.

No machine here is a Mac. Stand-ins, named as such: this Python is told it runs on macOS with Apple
silicon (``sys.platform``, ``platform.machine``) and has 16 GiB of RAM (the RAM reader); the llama-server
is ``tests/stand_in_llama_server.py`` printing the device list Homebrew's Metal build prints on such a
Mac; ``sysctl`` is a script answering ``sysctl.proc_translated`` as macOS does. Everything else (the
device-list parsing, the budget, doctor's findings, the refusal) is the real code.
"""

import platform
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from compose_models.docker_host import DESKTOP, LINUX, DockerHost, EngineLocation
from compose_models.doctor import machine
from compose_models.runner.backends import apple, devices, llama_cpp_python, llama_server, llama_server_build
from compose_models.runner.scheduling import memory
from compose_models.runner.scheduling.settings import SchedulerSettings
from tests.stand_in_llama_server import CPU_DEVICES, CRASH_ON_FIRST_ANSWER, METAL_DEVICES, METAL_WORKING_SET, write_stand_in

GIB = 1024**3
RAM = 16 * GIB


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """PATH holds only this directory (no llama-server, no sysctl unless a test puts one there); no cached
    build, no budget from the environment. The accelerator a build would use is asked afresh before and
    after: a stand-in Mac's Metal, kept in its cache, would have later tests look for a Metal build."""
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", str(directory))
    monkeypatch.setenv("COMPOSE_MODELS_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.delenv(llama_server.PATH_VARIABLE, raising=False)
    monkeypatch.delenv(memory.BUDGET_VARIABLE, raising=False)
    llama_server_build.build_accelerator.cache_clear()
    yield directory
    llama_server_build.build_accelerator.cache_clear()


def _sysctl(directory: Path, translated: str) -> None:
    """A stand-in for macOS's sysctl: ``sysctl -n sysctl.proc_translated`` prints ``translated``."""
    script = directory / "sysctl"
    script.write_text(f'#!/bin/sh\n[ "$2" = sysctl.proc_translated ] && echo {translated} && exit 0\nexit 1\n')
    script.chmod(0o755)


@pytest.fixture
def mac(bin_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in for a 16 GiB Mac with Apple silicon, this Python native arm64. Yields PATH's directory."""
    _sysctl(bin_dir, "0")
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(platform, "machine", lambda: "arm64")
    monkeypatch.setattr(memory, "physical_memory", lambda: RAM)
    return bin_dir


def _homebrew_llama_server(directory: Path, listing: str = METAL_DEVICES) -> Path:
    """The stand-in llama-server on PATH with no build record beside it, as Homebrew's is. It is never
    started as an engine here."""
    binary, _ = write_stand_in(directory, CRASH_ON_FIRST_ANSWER, listing)
    return binary


def _docker(kind: str, memory_total: int) -> DockerHost:
    return DockerHost(kind, EngineLocation("unix:///var/run/docker.sock", None, "the default socket"), info={"MemTotal": memory_total})


def test_device_lists_old_and_new_are_read_in_one_place() -> None:
    listing = "Available devices:\n  MTL0: Apple M2 (10922 MiB, 10922 MiB free)\n  Metal: Apple M1 (5461 MiB, 5000 MiB free)\n"
    found = devices.parse_devices(listing + "  CUDA0: NVIDIA GeForce RTX 4090 (24080 MiB, 23668 MiB free)\n")
    assert [(d.name, d.accelerator, d.total) for d in found] == [
        ("MTL0", "metal", 10922 * 2**20), ("Metal", "metal", 5461 * 2**20), ("CUDA0", "cuda", 24080 * 2**20)
    ]  # fmt: skip
    assert devices.metal_working_set(found) == 10922 * 2**20
    assert devices.parse_devices(CPU_DEVICES) == [] and devices.metal_working_set([]) is None
    assert devices.parse_devices("ggml_metal_init: found device: Apple M2\n") == []


def test_a_llama_server_on_path_is_described_by_its_device_list(bin_dir: Path) -> None:
    binary = _homebrew_llama_server(bin_dir)
    assert llama_server.find_binary() == binary
    assert llama_server.describe(binary).accelerator == "metal"


def test_doctor_sees_metal_and_its_working_set_on_apple_silicon(mac: Path) -> None:
    _homebrew_llama_server(mac)
    offload = machine.offload_finding()
    assert (offload.status, offload.found) == ("ok", "metal: every layer offloaded (--n-gpu-layers 999)"), offload
    found = machine.memory_finding(_docker(DESKTOP, 4 * GIB))
    assert found.status == "ok", found
    assert "budget 10.7 GiB (Metal's working set, from llama-server --list-devices)" in found.found
    assert "Metal's working set 10.7 GiB (llama-server --list-devices)" in found.found and "16.0 GiB RAM" in found.found
    assert "the Docker VM (Docker Desktop) 4.0 GiB" in found.found


def test_the_default_budget_on_apple_silicon_is_metals_working_set_read_once(mac: Path) -> None:
    binary = _homebrew_llama_server(mac)
    assert memory.budget().size == METAL_WORKING_SET
    assert llama_server.describe(binary).accelerator == "metal"
    settings = SchedulerSettings.from_environment()
    assert settings.memory_budget == METAL_WORKING_SET and "Metal's working set" in settings.memory_budget_origin
    machine.memory_finding(_docker(LINUX, RAM))
    assert (mac / "listings").read_text().splitlines() == ["listed"]  # asked once, whoever asks


def test_without_a_readable_working_set_the_budget_is_two_thirds_of_ram(mac: Path, monkeypatch) -> None:
    # No llama-server at all, and the real llama-cpp-python here is a CPU build: its ggml lists no GPU.
    assert llama_cpp_python.list_devices() == ()
    budget = memory.budget()
    assert budget.size == RAM * 2 // 3 and budget.origin.startswith("two thirds of RAM"), budget
    _homebrew_llama_server(mac, CPU_DEVICES)  # one that lists no Metal device
    assert memory.budget().size == RAM * 2 // 3
    assert "Metal's working set unknown" in machine.memory_finding(_docker(DESKTOP, 2 * GIB)).found
    monkeypatch.setenv(memory.BUDGET_VARIABLE, "6GiB")
    assert memory.budget() == memory.MemoryBudget(6 * GIB, "set by COMPOSE_MODELS_MEMORY_BUDGET or --memory-budget")


def test_doctor_warns_when_the_budget_and_the_docker_vm_outgrow_ram(mac: Path) -> None:
    _homebrew_llama_server(mac)
    found = machine.memory_finding(_docker(DESKTOP, 8 * GIB))  # Desktop's default share of a 16 GiB Mac
    assert found.status == "warn", found
    assert "together (18.7 GiB) are more than this machine's RAM" in found.found and "the Docker VM (Docker Desktop) 8.0 GiB" in found.found
    assert "Settings > Resources" in found.fix and "COMPOSE_MODELS_MEMORY_BUDGET=8192MiB" in found.fix


def test_doctor_warns_when_the_budget_is_more_than_metal_holds(mac: Path, monkeypatch) -> None:
    _homebrew_llama_server(mac)
    monkeypatch.setenv(memory.BUDGET_VARIABLE, "14GiB")
    found = machine.memory_finding(_docker(DESKTOP, 1 * GIB))
    assert found.status == "warn" and "more than Metal can hold" in found.found, found
    assert "COMPOSE_MODELS_MEMORY_BUDGET=10922MiB" in found.fix


def test_a_native_linux_engine_is_no_vm_taking_ram(bin_dir: Path, monkeypatch) -> None:
    monkeypatch.setattr(memory, "physical_memory", lambda: RAM)
    monkeypatch.setattr(sys, "platform", "linux")
    found = machine.memory_finding(_docker(LINUX, RAM))  # MemTotal is this machine's own memory there
    assert found.status == "ok" and "Docker VM" not in found.found, found
    assert found.found == "budget 12.0 GiB (75% of RAM); 16.0 GiB RAM"


def test_a_cpu_build_on_apple_silicon_still_fails_the_offload_check(mac: Path) -> None:
    _homebrew_llama_server(mac, CPU_DEVICES)
    found = machine.offload_finding()
    assert found.status == "fail" and "the GPU is unused" in found.found, found


def test_python_under_rosetta_is_told_to_use_an_arm64_python(bin_dir: Path, monkeypatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")  # what an x86-64 Python says under Rosetta
    _sysctl(bin_dir, "1")
    assert apple.under_rosetta() and apple.apple_silicon()
    found = machine.offload_finding()
    assert found.status == "fail" and "under Rosetta" in found.found and "arm64 Python" in found.fix, found
    _sysctl(bin_dir, "0")  # a native x86-64 Python on an Intel Mac (where the key reads 0, or is missing)
    assert not apple.under_rosetta() and not apple.apple_silicon()
