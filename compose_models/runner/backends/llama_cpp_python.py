"""llama-cpp-python's OpenAI server (``python -m llama_cpp.server``): always installed, one request at a time.

Its server holds one lock around the model, so parallel callers are served one after another and
never share a context: slower than llama-server's slots, but never corrupted. By default it would
cut a stream short whenever another request arrives; ``--interrupt_requests false`` makes the
newcomer wait instead.
"""

import importlib.metadata
import os
import sys
from functools import cache

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
