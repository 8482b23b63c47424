"""llama.cpp's own ``llama-server``: parallel slots with continuous batching, preferred when present.

Found at ``$LLAMA_SERVER_PATH`` (the binary, or a directory holding it, as in Docker Model
Runner), else on ``PATH``, else in the per-machine cache that ``install-runner --backend
llama-server`` fills.
"""

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from compose_models.runner.backends import devices, llama_server_build
from compose_models.runner.backends.engine import EngineSpec
from compose_models.runner.backends.process import ProcessEngine

NAME = "llama-server"
PATH_VARIABLE = "LLAMA_SERVER_PATH"
AUTO_PARALLEL = 4  # the slots llama-server makes when ``--parallel`` is not given


def find_binary() -> Path | None:
    configured = os.environ.get(PATH_VARIABLE)
    if configured:
        path = Path(configured).expanduser()
        if path.is_dir():
            path = path / llama_server_build.BINARY_NAME
        return path if path.is_file() and os.access(path, os.X_OK) else None
    on_path = shutil.which(llama_server_build.BINARY_NAME)
    return Path(on_path) if on_path else llama_server_build.cached_binary()


@dataclass(frozen=True)
class BinaryInfo:
    path: Path
    version: str
    accelerator: str


@cache
def describe(binary: Path) -> BinaryInfo:
    """The binary's version line and the accelerator it uses: the GPU its device list names (so a Homebrew
    or any other llama-server is described as it runs), else our build record's, else the CPU."""
    version_output = _output([str(binary), "--version"])
    match = re.search(r"version:\s*(\S+(?:\s*\([^)]*\))?)", version_output)
    version = match.group(1) if match else "unknown version"
    accelerator = devices.accelerator(list_devices(binary))
    if accelerator is None:
        try:
            accelerator = str(json.loads((binary.parent / "build.json").read_text())["accelerator"])
        except (OSError, ValueError, KeyError, TypeError):
            accelerator = "cpu"
    return BinaryInfo(binary, version, accelerator)


@cache
def takes_flag(binary: Path, flag: str) -> bool:
    """Whether ``binary``'s ``--help`` lists ``flag`` (builds differ: ``--spec-type`` is recent)."""
    return re.search(rf"(^|[\s,]){re.escape(flag)}([\s,]|$)", _output([str(binary), "--help"]), re.MULTILINE) is not None


@cache
def list_devices(binary: Path) -> tuple[devices.Device, ...]:
    """The GPUs ``binary --list-devices`` names, asked once per binary and process."""
    return tuple(devices.parse_devices(_output([str(binary), "--list-devices"])))


def _output(argv: list[str]) -> str:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=clean_environment())
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout + result.stderr


def clean_environment() -> dict[str, str]:
    """Our environment without ``LLAMA_ARG_*``, which llama-server would read as flags (host, port...)."""
    return {key: value for key, value in os.environ.items() if not key.startswith("LLAMA_ARG_")}


def pooling_arguments(gguf: dict[str, str]) -> tuple[str, ...]:
    """Embeddings from a model without pooling of its own (a chat model) are averaged over the tokens:
    llama-server's OpenAI route refuses per-token embeddings."""
    architecture = gguf.get("general.architecture", "llama")
    return ("--pooling", "mean") if gguf.get(f"{architecture}.pooling_type", "0") == "0" else ()


POOLING_TYPES = ("none", "mean", "cls", "last", "rank")  # llama.cpp's LLAMA_POOLING_TYPE_*, from 0


def gguf_pooling(gguf: dict[str, str]) -> str:
    """How the GGUF says its model pools token embeddings (``rank``: a reranker's classifier head); ``none`` if unsaid."""
    architecture = gguf.get("general.architecture", "llama")
    value = gguf.get(f"{architecture}.pooling_type", "0")
    return POOLING_TYPES[int(value)] if value.isdigit() and int(value) < len(POOLING_TYPES) else "none"


class LlamaServerEngine(ProcessEngine):
    def __init__(self, spec: EngineSpec, log_path: Path, binary: Path) -> None:
        super().__init__(spec, log_path)
        self.binary = binary

    def command(self) -> list[str]:
        spec = self.spec
        argv = [
            str(self.binary),
            "--model", str(spec.model_path),
            "--alias", spec.alias,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--ctx-size", str(spec.context_size),
            "--n-gpu-layers", "999",
            "--metrics",
        ]  # fmt: skip
        if spec.parallel:
            # One KV cache shared by the slots, so each request may still use the whole context,
            # as with llama-server's automatic slots (used when ``parallel`` is not given).
            argv += ["--parallel", str(spec.parallel), "--kv-unified"]
        if spec.embedding:
            argv.append("--embeddings")
            if spec.reranking:
                argv.append("--reranking")
        elif spec.chat_template_path:
            argv += ["--chat-template-file", str(spec.chat_template_path)]
        argv += ["--mmproj", str(spec.mmproj_path)] if spec.mmproj_path else ["--jinja"]
        return argv + self._draft_arguments() + list(spec.arguments)

    def _draft_arguments(self) -> list[str]:
        """The draft model; a llama-server that chooses among kinds of speculative decoding (``--spec-type``,
        none by default) is told to draft with it."""
        if self.spec.draft_model_path is None:
            return []
        arguments = ["--model-draft", str(self.spec.draft_model_path)]
        if takes_flag(self.binary, "--spec-type"):
            arguments += ["--spec-type", "draft-simple"]
        return arguments

    def environment(self) -> dict[str, str]:
        # llama-server answers only requests with this key (its /health and /v1/models stay open).
        return {**clean_environment(), "LLAMA_API_KEY": self.api_key}
