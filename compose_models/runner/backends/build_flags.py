"""The llama.cpp build options both engines are compiled with, and the cache key they make.

``GGML_NATIVE`` (llama.cpp's default) compiles for the build machine's CPU as CPUID reports it. Some
VMs advertise instructions they do not enable: on Intel Xeons that report AMX, a native build dies at
the first matrix multiply (``ldtilecfg``, a general protection fault). So on x86-64 we name a portable
instruction set instead (x86-64-v3: AVX2, FMA, F16C, BMI2), which every machine we run on has.

This module imports nothing from compose_models, so ``scripts/setup.sh`` can run it before the
package's dependencies (llama-cpp-python among them) are installed.
"""

import hashlib
import os
import platform
import sys

EXTRA_ARGS_VARIABLE = "COMPOSE_MODELS_CMAKE_ARGS"

# x86-64-v3, spelled as ggml's options; AVX-512 and AMX stay off.
X86_64_PORTABLE = [
    "-DGGML_NATIVE=OFF",
    "-DGGML_AVX=ON",
    "-DGGML_AVX2=ON",
    "-DGGML_FMA=ON",
    "-DGGML_F16C=ON",
    "-DGGML_BMI2=ON",
    "-DGGML_AVX512=OFF",
    "-DGGML_AMX_TILE=OFF",
    "-DGGML_AMX_INT8=OFF",
    "-DGGML_AMX_BF16=OFF",
]


def instruction_set() -> str:
    """A short name for what the CPU code is compiled for."""
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        return "x86-64-v3 (AVX2 FMA F16C BMI2)"
    if sys.platform == "darwin" and machine == "arm64":
        return "apple-m1 (armv8.5-a)"
    return f"{machine} baseline"


def ggml_options(accelerator: str) -> list[str]:
    """ggml's CMake options for this machine and ``accelerator`` (cpu, metal or cuda)."""
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        options = list(X86_64_PORTABLE)
    else:
        # Apple's clang targets apple-m1 for arm64 macOS by default; elsewhere the compiler's baseline.
        options = ["-DGGML_NATIVE=OFF"]
    if accelerator == "metal":
        # Every layer offloaded needs the Metal library; embedding it means no .metal file to find at run time.
        options += ["-DGGML_METAL=ON", "-DGGML_METAL_EMBED_LIBRARY=ON"]
    if accelerator == "cuda":
        options.append("-DGGML_CUDA=ON")
    return options + os.environ.get(EXTRA_ARGS_VARIABLE, "").split()


def build_key(version: str, options: list[str]) -> str:
    """A cache key that changes whenever what would be built changes: version, platform, options."""
    text = "\n".join([version, sys.platform, platform.machine(), *options])
    return f"{version}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def accelerator_for_wheel() -> str:
    """llama-cpp-python's accelerator here: Metal on Apple silicon, else the CPU (CUDA by request)."""
    if sys.platform == "darwin" and platform.machine() == "arm64":
        return "metal"
    return "cpu"
