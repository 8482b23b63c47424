"""llama-cpp-python's OpenAI server (``python -m llama_cpp.server``): always installed, one request at a time.

Its server holds one lock around the model, so parallel callers are served one after another and
never share a context: slower than llama-server's slots, but never corrupted. By default it would
cut a stream short whenever another request arrives; ``--interrupt_requests false`` makes the
newcomer wait instead.
"""

import importlib.metadata
import os
import subprocess
import sys
from functools import cache

from compose_models.runner.backends import devices
from compose_models.runner.backends.process import ProcessEngine

NAME = "llama-cpp-python"


class LlamaCppPythonEngine(ProcessEngine):
    health_path = "/v1/models"  # the server has no /health

    def command(self) -> list[str]:
        spec = self.spec
        argv = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(spec.model_path),
            "--model_alias", spec.alias,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--n_ctx", str(spec.context_size),
            "--n_gpu_layers", "-1",  # every layer on the GPU when there is one (Metal, CUDA)
            "--interrupt_requests", "false",
            "--verbose", "false",
        ]  # fmt: skip
        if spec.embedding:
            argv += ["--embedding", "true"]
        return argv + list(spec.arguments)  # later settings win in argparse

    def environment(self) -> dict[str, str]:
        # The server's settings are pydantic BaseSettings: ``api_key`` is read from $API_KEY when
        # ``--api_key`` is not given, and then every route but the docs wants this bearer key.
        return {**os.environ, "API_KEY": self.api_key}


def version() -> str:
    return importlib.metadata.version("llama-cpp-python")


@cache
def accelerator() -> str:
    import llama_cpp

    if not llama_cpp.llama_supports_gpu_offload():
        return "cpu"
    return "metal" if sys.platform == "darwin" else "cuda"


# ggml's device list as ``llama-server --list-devices`` prints it (common/arg.cpp), from the ggml library
# llama-cpp-python carries: llama-cpp-python binds no ggml_backend_dev_* function of its own.
_DEVICES_PROBE = """
import ctypes, pathlib
import llama_cpp
lib = pathlib.Path(llama_cpp.__file__).parent / "lib"
ggml = ctypes.CDLL(str(next(p for p in (lib / "libggml.dylib", lib / "libggml.so") if p.exists())))
ggml.ggml_backend_dev_count.restype = ctypes.c_size_t
ggml.ggml_backend_dev_get.argtypes, ggml.ggml_backend_dev_get.restype = [ctypes.c_size_t], ctypes.c_void_p
for text in (ggml.ggml_backend_dev_name, ggml.ggml_backend_dev_description):
    text.argtypes, text.restype = [ctypes.c_void_p], ctypes.c_char_p
ggml.ggml_backend_dev_type.argtypes, ggml.ggml_backend_dev_type.restype = [ctypes.c_void_p], ctypes.c_int
size = ctypes.POINTER(ctypes.c_size_t)
ggml.ggml_backend_dev_memory.argtypes = [ctypes.c_void_p, size, size]
print("Available devices:")
for index in range(ggml.ggml_backend_dev_count()):
    device = ggml.ggml_backend_dev_get(index)
    if ggml.ggml_backend_dev_type(device) == 0:  # GGML_BACKEND_DEVICE_TYPE_CPU, which llama-server leaves out
        continue
    free, total = ctypes.c_size_t(), ctypes.c_size_t()
    ggml.ggml_backend_dev_memory(device, ctypes.byref(free), ctypes.byref(total))
    name, description = ggml.ggml_backend_dev_name(device).decode(), ggml.ggml_backend_dev_description(device).decode()
    print(f"  {name}: {description} ({total.value >> 20} MiB, {free.value >> 20} MiB free)")
"""


@cache
def list_devices() -> tuple[devices.Device, ...]:
    """The GPUs the installed llama-cpp-python's ggml finds, as llama-server would list them; asked once per
    process, in a child process (Metal is not loaded into the runner). Empty when it cannot be asked."""
    try:
        done = subprocess.run([sys.executable, "-c", _DEVICES_PROBE], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return tuple(devices.parse_devices(done.stdout)) if done.returncode == 0 else ()
