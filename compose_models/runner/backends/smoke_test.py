"""Prove that an engine build computes before it is trusted: one token from a tiny model, in a child process.

A llama.cpp built for the wrong CPU does not fail at start-up: it dies with SIGILL or a general
protection fault at the first matrix multiply. So after each build, and before the runner first starts
an engine of a build it has not seen, the build generates one token from ``smoke_model``. The verdict
is remembered per build (its files' names, sizes and times) in ``<cache>/smoke-tests/``; a build that
failed stays refused, with its crash report, until it is rebuilt.
"""

import hashlib
import importlib.util
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, overload

import httpx

from compose_models.runner.backends.cache import cache_dir
from compose_models.runner.backends.process import exit_description
from compose_models.runner.backends.smoke_model import write_smoke_model

_TIMEOUT = 120.0

# Every layer offloaded, as the engine serves (``--n_gpu_layers -1``), so a Metal or CUDA build runs its
# GPU kernels here and not only on the CPU; on a CPU build it changes nothing.
_PYTHON_PROBE = """
import json, sys
import llama_cpp
model = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=128, n_threads=2, n_gpu_layers=-1, verbose=False)
model.eval(model.tokenize(b"a"))
token = model.sample(temp=0.0)
print(json.dumps({"token": f"token {token}", "system_info": llama_cpp.llama_print_system_info().decode(),
                  "gpu_layers": model.model_params.n_gpu_layers}))
"""
# In the name of its verdicts: a verdict of the probe before it offloaded never ran a GPU kernel.
_PYTHON_PROBE_KIND = "llama-cpp-python-offloaded"


@dataclass(frozen=True)
class SmokeResult:
    ok: bool
    detail: str  # "token N", or what went wrong
    system_info: str = ""  # llama.cpp's own line of compiled-in CPU features
    gpu_layers: int | None = None  # the layers llama-cpp-python was asked to offload (llama.cpp's number: all)

    def features(self) -> list[str]:
        """The CPU features the build uses, from llama.cpp's ``system_info`` (``AVX2 = 1`` and so on)."""
        return re.findall(r"([A-Z0-9_]+) = 1", self.system_info)


def _tail(text: str, lines: int = 6) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:] if line.strip())


def llama_cpp_python_lib() -> Path | None:
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "lib"


def _fingerprint(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        status = path.stat()
        digest.update(f"{path}\0{status.st_size}\0{status.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _record_path(kind: str, paths: list[Path]) -> Path:
    return cache_dir() / "smoke-tests" / f"{kind}-{_fingerprint(paths)}.json"


def smoke_test_llama_server(binary: Path, model: Path) -> SmokeResult:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = [
        str(binary), "--model", str(model), "--host", "127.0.0.1", "--port", str(port), "--ctx-size", "128",
        "-lv", "4",  # verbosity 4 prints system_info: the CPU features it was compiled with
    ]  # fmt: skip
    api_key = secrets.token_urlsafe(32)  # for its few seconds, too, it answers only us
    environment = {key: value for key, value in os.environ.items() if not key.startswith("LLAMA_ARG_")}
    environment["LLAMA_API_KEY"] = api_key
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=environment)
        try:
            result = _ask_server(process, f"http://127.0.0.1:{port}", api_key)
        finally:
            process.kill()
            process.wait()
        log.seek(0)
        output = log.read().decode(errors="replace")
    system_info = next((line for line in output.splitlines() if "system_info" in line), "")
    if result is None:
        return SmokeResult(False, f"llama-server {exit_description(process.returncode)}: {_tail(output)}", system_info)
    return SmokeResult(True, result, system_info)


def _ask_server(process: subprocess.Popen[bytes], base_url: str, key: str) -> str | None:
    deadline = time.monotonic() + _TIMEOUT
    with httpx.Client(timeout=_TIMEOUT, headers={"authorization": f"Bearer {key}"}) as client:
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if client.get(base_url + "/health").status_code == 200:
                    request = {"prompt": "a", "n_predict": 1, "temperature": 0, "return_tokens": True}
                    answer = client.post(base_url + "/completion", json=request)
                    tokens = answer.json().get("tokens") if answer.status_code == 200 else None
                    return f"token {tokens[0]}" if tokens else None
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    return None


def smoke_test_llama_cpp_python(model: Path) -> SmokeResult:
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PYTHON_PROBE, str(model)], capture_output=True, text=True, timeout=_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        return SmokeResult(False, f"llama-cpp-python gave no token within {_TIMEOUT:.0f}s")
    if done.returncode != 0:
        return SmokeResult(False, f"llama-cpp-python {exit_description(done.returncode)}: {_tail(done.stderr + done.stdout)}")
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return SmokeResult(True, answer["token"], answer["system_info"], answer["gpu_layers"])


def _remembered(kind: str, paths: list[Path], test: Callable[[Path], SmokeResult], run: bool) -> SmokeResult | None:
    record = _record_path(kind, paths)
    try:
        return SmokeResult(**json.loads(record.read_text()))
    except (OSError, ValueError, TypeError):
        if not run:
            return None
    with tempfile.TemporaryDirectory(prefix="compose-models-smoke-") as scratch:
        result = test(write_smoke_model(Path(scratch) / "smoke.gguf"))
    record.parent.mkdir(parents=True, exist_ok=True)
    temporary = record.with_suffix(".tmp")
    temporary.write_text(json.dumps(asdict(result)))
    os.replace(temporary, record)
    return result


@overload
def llama_server_verdict(binary: Path, *, run: Literal[True] = ...) -> SmokeResult: ...
@overload
def llama_server_verdict(binary: Path, *, run: bool) -> SmokeResult | None: ...
def llama_server_verdict(binary: Path, *, run: bool = True) -> SmokeResult | None:
    """The remembered smoke test of this llama-server binary, run first if it never was (and ``run``)."""
    return _remembered("llama-server", [binary], lambda model: smoke_test_llama_server(binary, model), run)


@overload
def llama_cpp_python_verdict(*, run: Literal[True] = ...) -> SmokeResult: ...
@overload
def llama_cpp_python_verdict(*, run: bool) -> SmokeResult | None: ...
def llama_cpp_python_verdict(*, run: bool = True) -> SmokeResult | None:
    """The remembered smoke test of the installed llama-cpp-python build, run first if it never was (and ``run``)."""
    lib = llama_cpp_python_lib()
    if lib is None or not lib.is_dir():
        return SmokeResult(False, "llama-cpp-python is not installed")
    files = [path for path in lib.iterdir() if path.is_file()]
    return _remembered(_PYTHON_PROBE_KIND, files, smoke_test_llama_cpp_python, run)
