"""Build llama.cpp's ``llama-server`` once per machine from the ``vendor/llama.cpp`` tree of the
llama-cpp-python sdist, so both backends run the same llama.cpp.

The result is one statically linked binary in ``<cache>/llama-server/<version>-<key>/``, the key
covering the build options (portable ones, never ``GGML_NATIVE``: see ``build_flags``), with a
``build.json`` beside it saying what it was built for and whether its smoke test answered. A build
that already sits in the cache is reused; concurrent installs wait on one file lock.
"""

import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, cast

from filelock import FileLock

from compose_models.errors import UserError
from compose_models.runner.backends import smoke_test
from compose_models.runner.backends.build_flags import build_key, ggml_options, instruction_set
from compose_models.runner.backends.cache import cache_dir

BINARY_NAME = "llama-server"
_SDIST_PACKAGE = "llama-cpp-python"

Log = Callable[[str], None]


@cache
def bundled_llama_cpp_version() -> str:
    """The installed llama-cpp-python version: its sdist pins the llama.cpp tree we build."""
    return importlib.metadata.version(_SDIST_PACKAGE)


def install_dir(version: str | None = None) -> Path:
    options = cmake_options(build_accelerator())
    return cache_dir() / BINARY_NAME / build_key(version or bundled_llama_cpp_version(), options)


def cached_binary(version: str | None = None) -> Path | None:
    binary = install_dir(version) / BINARY_NAME
    return binary if binary.is_file() and os.access(binary, os.X_OK) else None


@cache
def build_accelerator() -> str:
    """What this machine's build will use: Metal on Apple silicon, CUDA with a toolkit and a GPU, else CPU."""
    if sys.platform == "darwin" and platform.machine() == "arm64":
        return "metal"
    if shutil.which("nvcc") and _nvidia_gpu_present():
        return "cuda"
    return "cpu"


def _nvidia_gpu_present() -> bool:
    # A CUDA toolkit alone is not enough: CMake's "native" architecture needs a GPU to detect.
    if not shutil.which("nvidia-smi"):
        return False
    listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True)
    return listing.returncode == 0 and "GPU" in listing.stdout


def cmake_options(accelerator: str) -> list[str]:
    options = [
        "-DCMAKE_BUILD_TYPE=Release",
        "-DBUILD_SHARED_LIBS=OFF",  # one self-contained file to cache
        "-DLLAMA_BUILD_SERVER=ON",
        "-DLLAMA_BUILD_TESTS=OFF",
        "-DLLAMA_BUILD_EXAMPLES=OFF",
        "-DLLAMA_CURL=OFF",
        "-DLLAMA_OPENSSL=OFF",
        "-DLLAMA_USE_PREBUILT_UI=OFF",  # no downloads during the build
        "-DLLAMA_BUILD_UI=OFF",
    ]
    return options + ggml_options(accelerator)


def install_llama_server(
    source: Path | None = None, *, force: bool = False, jobs: int | None = None, log: Log = print
) -> Path:
    """The cached ``llama-server`` binary, built first if it is not cached (or ``force``).

    ``source`` is an sdist tarball or an unpacked llama.cpp tree; by default the sdist of the
    installed llama-cpp-python is fetched with pip.
    """
    target = install_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        binary = cached_binary()
        if binary and not force:
            log(f"llama-server is already built: {binary}")
            return binary
        with tempfile.TemporaryDirectory(prefix="llama-server-build-") as scratch:
            tree = _llama_cpp_tree(source, Path(scratch), log)
            accelerator = build_accelerator()
            options = cmake_options(accelerator)
            built = _build(tree, Path(scratch) / "build", options, accelerator, jobs or os.cpu_count() or 2, log)
            _store(built, target, {"accelerator": accelerator, "instruction_set": instruction_set(), "cmake_args": options})
    log(f"llama-server built: {target / BINARY_NAME}")
    return target / BINARY_NAME


def prove_build(binary: Path, log: Log = print) -> None:
    """One token from a tiny model (``smoke_test``), or a UserError with the crash report."""
    result = smoke_test.llama_server_verdict(binary)
    if not result.ok:
        raise UserError(
            f"{binary} was built but cannot compute on this machine: {result.detail}\n"
            "Rebuild it: `compose-models install-runner --backend llama-server --force`"
        )
    log(f"llama-server answers: one token ({result.detail}) with CPU {' '.join(result.features())}")


def _llama_cpp_tree(source: Path | None, scratch: Path, log: Log) -> Path:
    if source is not None and source.is_dir():
        vendored = source / "vendor" / "llama.cpp"
        return vendored if vendored.is_dir() else source
    sdist = source or _download_sdist(scratch, log)
    log(f"unpacking {sdist.name}")
    with tarfile.open(sdist) as archive:
        archive.extractall(scratch / "sdist", filter="data")
    trees = list((scratch / "sdist").glob("*/vendor/llama.cpp"))
    if not trees:
        raise UserError(f"{sdist} holds no vendor/llama.cpp tree: is it the llama-cpp-python sdist?")
    return trees[0]


def _download_sdist(scratch: Path, log: Log) -> Path:
    version = bundled_llama_cpp_version()
    log(f"fetching the {_SDIST_PACKAGE} {version} sdist (it carries llama.cpp's sources)")
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
        f"{_SDIST_PACKAGE}=={version}", "-d", str(scratch),
    ]  # fmt: skip
    _run(command, "pip download")
    found = list(scratch.glob("*.tar.gz"))
    if not found:
        raise UserError(f"pip download left no sdist of {_SDIST_PACKAGE} {version} in {scratch}")
    return found[0]


def _build(tree: Path, build: Path, options: list[str], accelerator: str, jobs: int, log: Log) -> Path:
    cmake, ninja = _build_tool("cmake"), _build_tool("ninja")
    if not cmake:
        raise UserError("building llama-server needs cmake (`pip install cmake`) and a C++ compiler")
    generator = ["-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={ninja}"] if ninja else []
    log(f"configuring llama.cpp for {accelerator}")
    _run([cmake, "-S", str(tree), "-B", str(build), *generator, *options], "cmake configure")
    log(f"compiling llama-server with {jobs} jobs (about 5 minutes on 2 cores)")
    _run([cmake, "--build", str(build), "--target", BINARY_NAME, "-j", str(jobs)], "cmake build")
    binary = build / "bin" / BINARY_NAME
    if not binary.is_file():
        raise UserError(f"the build finished without producing {binary}")
    return binary


def _build_tool(name: str) -> str | None:
    """``name`` beside our interpreter (setup puts cmake and ninja into the venv), else on PATH."""
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return shutil.which(name, path=search)


def build_info(version: str | None = None) -> dict[str, Any]:
    """What the cached build was made for (``build.json``), or {} when there is none."""
    try:
        return cast(dict[str, Any], json.loads((install_dir(version) / "build.json").read_text()))
    except (OSError, ValueError):
        return {}


def _store(binary: Path, target: Path, info: dict[str, Any]) -> None:
    """Copy into the cache atomically, so an interrupted install never leaves a half binary."""
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    shutil.copy2(binary, staging / BINARY_NAME)
    (staging / "build.json").write_text(json.dumps(info))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        tail = "\n".join(result.stdout.strip().splitlines()[-20:])
        raise UserError(f"{what} failed (exit {result.returncode}):\n{tail}")
