"""The doctor's checks of this machine: engine builds and their smoke tokens, GPU offload and memory, the store."""

import platform
import re
import subprocess
import sys

from compose_models.doctor.report import FAIL, OK, WARN, Finding
from compose_models.runner.backends import llama_cpp_python, llama_server, smoke_test
from compose_models.runner.scheduling.memory import memory_budget, physical_memory
from compose_models.store import ModelStore
from compose_models.units import format_bytes

_APPLE_SILICON = sys.platform == "darwin" and platform.machine() == "arm64"


def _build_finding(name: str, version: str, accelerator: str, result: smoke_test.SmokeResult) -> Finding:
    if not result.ok:
        return Finding(
            f"{name} build", FAIL, f"{version}, {accelerator}: smoke test failed: {result.detail}",
            "rebuild for this CPU: scripts/setup.sh, or `compose-models install-runner --backend llama-server --force`",
        )  # fmt: skip
    features = " ".join(result.features()) or "no CPU features reported"
    return Finding(f"{name} build", OK, f"{version}, {accelerator}, CPU {features}; smoke test gave {result.detail}")


def build_findings() -> list[Finding]:
    findings = [
        _build_finding(
            llama_cpp_python.NAME, llama_cpp_python.version(), llama_cpp_python.accelerator(),
            smoke_test.llama_cpp_python_verdict(),
        )  # fmt: skip
    ]
    binary = llama_server.find_binary()
    if binary is None:
        findings.append(Finding(
            "llama-server build", WARN, "not installed: models run on llama-cpp-python, one request at a time",
            "`compose-models install-runner --backend llama-server` (about 5 minutes)",
        ))  # fmt: skip
    else:
        info = llama_server.describe(binary)
        findings.append(_build_finding("llama-server", f"{info.version} at {binary}", info.accelerator,
                                       smoke_test.llama_server_verdict(binary)))  # fmt: skip
    return findings


def _metal_working_set(binary) -> int | None:
    """Metal's recommended working set, in bytes, from ``llama-server --list-devices`` ("(10922 MiB, ...")."""
    try:
        listing = subprocess.run([str(binary), "--list-devices"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"Metal.*?\((\d+) MiB", listing.stdout + listing.stderr)
    return int(match.group(1)) * 1024 * 1024 if match else None


def offload_finding() -> Finding:
    accelerator = llama_cpp_python.accelerator()
    binary = llama_server.find_binary()
    if binary is not None:
        accelerator = llama_server.describe(binary).accelerator
    if _APPLE_SILICON and accelerator != "metal":
        return Finding("GPU offload", FAIL, f"built for {accelerator} on Apple silicon: the GPU is unused",
                       "rebuild with Metal: remove ~/.cache/compose-models and run scripts/setup.sh")
    if accelerator == "cpu":
        return Finding("GPU offload", OK, "no GPU build on this machine: inference runs on the CPU")
    return Finding("GPU offload", OK, f"{accelerator}: every layer offloaded (--n-gpu-layers 999)")


def memory_finding() -> Finding:
    budget, physical = memory_budget(), physical_memory()
    found = f"budget {format_bytes(budget)} of {format_bytes(physical)} memory"
    binary = llama_server.find_binary()
    working_set = _metal_working_set(binary) if _APPLE_SILICON and binary else None
    if working_set and budget > working_set:
        return Finding("memory budget", WARN, f"{found}; Metal's working set is only {format_bytes(working_set)}",
                       f"COMPOSE_MODELS_MEMORY_BUDGET={working_set // 2**20}MiB compose-models serve")
    return Finding("memory budget", OK, found)


def store_finding() -> Finding:
    store = ModelStore.default()
    broken = []
    models = store.models()
    for model in models:
        missing = [layer for layer in model.layers
                   if not store.blobs.has(layer.digest) or store.blobs.size(layer.digest) != layer.size]  # fmt: skip
        if missing:
            broken.append(f"{(model.tags or (model.id,))[0]} ({len(missing)} of {len(model.layers)} files missing or short)")
    if broken:
        return Finding("model store", FAIL, f"{store.root}: {'; '.join(broken)}", "pull or package those models again")
    return Finding("model store", OK, f"{store.root}: {len(models)} models, {format_bytes(store.disk_usage())}")
