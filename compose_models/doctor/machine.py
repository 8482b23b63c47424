"""The doctor's checks of this machine: engine builds and their smoke tokens, GPU offload and memory, the store."""

import sys

from compose_models.docker_host import COLIMA, DESKTOP, NO_ENGINE, ORBSTACK, RANCHER, DockerHost, detect_docker_host
from compose_models.doctor.report import FAIL, OK, WARN, Finding
from compose_models.runner.backends import apple, llama_cpp_python, llama_server, smoke_test
from compose_models.runner.scheduling import memory
from compose_models.store import ModelStore
from compose_models.units import format_bytes

_VM_ENGINES = (DESKTOP, ORBSTACK, COLIMA, RANCHER)  # VMs on Linux too; Podman there is native


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
            "llama-server build", WARN, "not installed: models run on the batched engine (on llama-cpp-python), which "
            "answers concurrent requests together; llama-server also runs vision models and takes every runtime flag",
            "`compose-models install-runner --backend llama-server` (about 10 minutes on 2 cores)",
        ))  # fmt: skip
    else:
        info = llama_server.describe(binary)
        findings.append(_build_finding("llama-server", f"{info.version} at {binary}", info.accelerator,
                                       smoke_test.llama_server_verdict(binary)))  # fmt: skip
    return findings


def offload_finding() -> Finding:
    if apple.under_rosetta():
        return Finding("GPU offload", FAIL, f"this Python ({sys.executable}) is x86-64 under Rosetta on Apple silicon: "
                       "its engines are x86-64 builds without Metal, and the GPU is unused",
                       "install an arm64 Python (python.org's universal2 installer, or Homebrew's /opt/homebrew/bin/python3), "
                       "then run scripts/setup.sh again with it")  # fmt: skip
    binary = llama_server.find_binary()  # the engine GGUF models run on, when present
    accelerator = llama_server.describe(binary).accelerator if binary else llama_cpp_python.accelerator()
    if apple.apple_silicon() and accelerator != "metal":
        return Finding("GPU offload", FAIL, f"built for {accelerator} on Apple silicon: the GPU is unused",
                       "rebuild with Metal: remove ~/.cache/compose-models and run scripts/setup.sh")
    if accelerator == "cpu":
        return Finding("GPU offload", OK, "no GPU build on this machine: inference runs on the CPU")
    return Finding("GPU offload", OK, f"{accelerator}: every layer offloaded (--n-gpu-layers 999)")


def _in_a_vm(docker: DockerHost) -> bool:
    """Whether the engine's containers run in a VM whose memory comes out of this machine's RAM
    (every engine on a Mac); a native Linux engine's MemTotal is this machine's own memory."""
    return docker.kind != NO_ENGINE and (sys.platform == "darwin" or docker.kind in _VM_ENGINES)


def memory_finding(docker: DockerHost | None = None) -> Finding:
    """The budget and where it came from, RAM, Metal's working set on Apple silicon, and the Docker VM's
    memory, which comes out of the same RAM."""
    budget, physical = memory.budget(), memory.physical_memory()
    figures = [f"budget {format_bytes(budget.size)} ({budget.origin})", f"{format_bytes(physical)} RAM"]
    working_set = memory.metal_working_set() if apple.apple_silicon() else None
    if apple.apple_silicon():
        figures.append(f"Metal's working set {format_bytes(working_set.size)} ({working_set.source})" if working_set
                       else "Metal's working set unknown (no engine lists a Metal device)")  # fmt: skip
    docker = docker if docker is not None else detect_docker_host()
    vm_memory = int(docker.info.get("MemTotal") or 0) if _in_a_vm(docker) else 0
    if vm_memory:
        figures.append(f"the Docker VM ({docker.kind}) {format_bytes(vm_memory)}")
    found = "; ".join(figures)
    if working_set and budget.size > working_set.size:
        return Finding("memory budget", WARN, f"{found}: the budget is more than Metal can hold",
                       f"COMPOSE_MODELS_MEMORY_BUDGET={working_set.size // 2**20}MiB compose-models serve")
    if vm_memory and budget.size + vm_memory > physical:
        together = format_bytes(budget.size + vm_memory)
        fix = ("give the Docker VM less memory (Docker Desktop: Settings > Resources; `colima start --memory N`; "
               "`podman machine set --memory N`)")  # fmt: skip
        if physical > vm_memory:
            fix += f", or COMPOSE_MODELS_MEMORY_BUDGET={(physical - vm_memory) // 2**20}MiB compose-models serve"
        return Finding("memory budget", WARN, f"{found}: the budget and the Docker VM together ({together}) are more "
                       "than this machine's RAM, so loaded models and containers would swap", fix)  # fmt: skip
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
