"""Which backend runs a model, how its engine is made, and what ``status`` says about each backend.

GGUF models run on llama-server when it is present, else on the batched engine, which answers
concurrent requests together (llama-cpp-python's own server answers one at a time, and is no faster at
one stream: docs/benchmarks.md); ``$COMPOSE_MODELS_LLAMA_BACKEND`` (``llama-server``,
``llama-cpp-python`` or ``batched``) pins the choice.
Safetensors models run on MLX, which exists only on macOS with Apple silicon.
"""

import os
from pathlib import Path

from compose_models.runner.backends import batched, llama_cpp_python, llama_server, mlx, smoke_test
from compose_models.runner.backends.engine import EngineSpec
from compose_models.runner.backends.process import ProcessEngine
from compose_models.runner.errors import EngineUnavailable

BACKEND_VARIABLE = "COMPOSE_MODELS_LLAMA_BACKEND"
LLAMA_CPP = "llama.cpp"  # Docker Model Runner's name for both llama backends
_INSTALL_HINT = "run `compose-models install-runner --backend llama-server`"


class BackendUnavailable(EngineUnavailable):
    """The model's format needs a backend that this machine cannot run or does not have."""


def llama_backend() -> str:
    """The backend for GGUF models now (it can change when llama-server is installed while running)."""
    pinned = os.environ.get(BACKEND_VARIABLE, "").strip()
    if pinned in (llama_cpp_python.NAME, batched.NAME):
        return pinned
    if pinned not in ("", llama_server.NAME):
        raise BackendUnavailable(
            f"{BACKEND_VARIABLE}={pinned!r}: expected {llama_server.NAME!r}, {llama_cpp_python.NAME!r} or {batched.NAME!r}"
        )
    if llama_server.find_binary():
        return llama_server.NAME
    if pinned:
        raise BackendUnavailable(f"{BACKEND_VARIABLE}=llama-server but no llama-server was found: {_INSTALL_HINT}")
    return batched.NAME


def backend_for_format(model_format: str) -> str:
    if model_format == "safetensors":
        reason = mlx.unavailable_reason()
        if reason:
            raise BackendUnavailable(f"this model is in safetensors (MLX) format; {reason}")
        return mlx.NAME
    if model_format not in ("", "gguf"):
        raise BackendUnavailable(f"no backend runs models in {model_format!r} format")
    return llama_backend()


def dmr_backend_name(backend: str) -> str:
    """The ``backend_name`` Docker Model Runner shows in ``/engines/ps``."""
    return mlx.NAME if backend == mlx.NAME else LLAMA_CPP


def create_engine(spec: EngineSpec, log_path: Path) -> ProcessEngine:
    if spec.backend == llama_server.NAME:
        binary = llama_server.find_binary()
        if binary is None:
            raise BackendUnavailable(f"llama-server is no longer found: {_INSTALL_HINT}")
        return llama_server.LlamaServerEngine(spec, log_path, binary)
    if spec.backend == mlx.NAME:
        return mlx.MlxEngine(spec, log_path)
    if spec.backend == batched.NAME:
        return batched.BatchedEngine(spec, log_path)
    return llama_cpp_python.LlamaCppPythonEngine(spec, log_path)


def verdict(backend: str) -> smoke_test.SmokeResult | None:
    """The smoke test of the build behind ``backend``, run once per build; None for backends without one."""
    if backend == llama_server.NAME:
        binary = llama_server.find_binary()
        return smoke_test.llama_server_verdict(binary) if binary else None
    if backend in (llama_cpp_python.NAME, batched.NAME):
        return smoke_test.llama_cpp_python_verdict()
    return None


def ensure_trusted(backend: str) -> None:
    """Refuse a build that cannot compute one token on this machine, with its crash report."""
    result = verdict(backend)
    if result is not None and not result.ok:
        raise BackendUnavailable(
            f"the {backend} build on this machine failed its smoke test ({result.detail}); rebuild it for this CPU: "
            "remove the cached build and run scripts/setup.sh (or `compose-models install-runner --force`)"
        )


def _build_summary(result: smoke_test.SmokeResult | None) -> str:
    if result is None:
        return "not smoke-tested yet"
    if not result.ok:
        return f"smoke test FAILED: {result.detail}"
    features = " ".join(result.features()) or "no CPU features reported"
    return f"CPU {features}, smoke test passed"


def backend_status() -> dict[str, str]:
    """``GET /engines/status``: each backend and its state, version, accelerator (metal, cuda or cpu),
    the CPU instructions its build uses and its smoke test."""
    python_build = _build_summary(smoke_test.llama_cpp_python_verdict(run=False))
    python_line = f"llama-cpp-python {llama_cpp_python.version()}, {llama_cpp_python.accelerator()}, {python_build}"
    binary = llama_server.find_binary()
    if binary:
        info = llama_server.describe(binary)
        server_build = _build_summary(smoke_test.llama_server_verdict(binary, run=False))
        server_line = f"llama-server {info.version}, {info.accelerator}, {server_build}, {info.path}"
        server_status = f"Running: {server_line}"
    else:
        server_status = f"Not Installed: {_INSTALL_HINT}"
    try:
        chosen = llama_backend()
        active = python_line
        if chosen == llama_server.NAME:
            active = server_line
        elif chosen == batched.NAME:
            active = f"batched engine on {python_line}"
        llama_status = f"Running: {active}"
    except BackendUnavailable as error:
        llama_status = f"Error: {error}"
    mlx_reason = mlx.unavailable_reason()
    return {
        LLAMA_CPP: llama_status,
        llama_server.NAME: server_status,
        llama_cpp_python.NAME: f"Running: {python_line}",
        mlx.NAME: f"Not Installed: {mlx_reason}" if mlx_reason else f"Running: mlx-lm {mlx.version()}, metal",
    }
