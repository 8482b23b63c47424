"""The engines that setup builds are portable and answer on this machine.

The checks look at the builds themselves, so they mean something on a CPU without AMX too: a native
build on an AVX-512 machine would carry zmm instructions, and on an AMX machine ggml_backend_amx code;
a portable one carries neither, whatever CPU built it.
"""

import json
import platform
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from compose_models.runner.backends import llama_server_build, smoke_test
from compose_models.runner.backends.smoke_model import write_smoke_model
from tests.conftest import REPO, require

X86 = platform.machine().lower() in ("x86_64", "amd64")


def _symbols(binary: Path) -> str:
    dynamic = subprocess.run(["nm", "-D", "--defined-only", str(binary)], capture_output=True, text=True).stdout
    static = subprocess.run(["nm", "--defined-only", str(binary)], capture_output=True, text=True).stdout
    return dynamic + static


def _uses_avx512(binary: Path) -> bool:
    disassembly = subprocess.Popen(["objdump", "-d", "--no-show-raw-insn", str(binary)], stdout=subprocess.PIPE, text=True)
    try:
        return any("%zmm" in line for line in disassembly.stdout)
    finally:
        disassembly.kill()
        disassembly.wait()


def _assert_portable(binary: Path, cmake_args: list[str]) -> None:
    assert "-DGGML_NATIVE=OFF" in cmake_args, cmake_args
    assert not any("march=native" in argument for argument in cmake_args), cmake_args
    require(shutil.which("nm") is not None and shutil.which("objdump") is not None, "binutils (nm, objdump)")
    assert "ggml_backend_amx" not in _symbols(binary), f"{binary} carries AMX code"
    if X86:
        assert not _uses_avx512(binary), f"{binary} uses AVX-512 registers: built for the build machine's CPU"


def _installed_wheel_record() -> dict:
    stamp = Path(sys.prefix) / "llama-cpp-python-wheel"
    require(stamp.is_file(), f"{stamp}: llama-cpp-python was not installed by scripts/install-llama-cpp-python.sh")
    return json.loads((Path(stamp.read_text().strip()).parent / "build.json").read_text())


def test_llama_cpp_python_is_the_portable_build_and_answers(tmp_path: Path) -> None:
    lib = smoke_test.llama_cpp_python_lib()
    assert lib is not None and lib.is_dir()
    cpu_library = next(iter(sorted(lib.glob("libggml-cpu*.so")) + sorted(lib.glob("libggml-cpu*.dylib"))))
    _assert_portable(cpu_library, _installed_wheel_record()["cmake_args"])
    result = smoke_test.smoke_test_llama_cpp_python(write_smoke_model(tmp_path / "smoke.gguf"))
    assert result.ok, result.detail
    if X86:
        assert "AVX2" in result.features() and "AMX_INT8" not in result.features(), result.system_info


def test_the_llama_cpp_python_smoke_test_offloads_every_layer_as_serving_does(tmp_path: Path) -> None:
    """The engine serves with ``--n_gpu_layers -1``; a smoke test that loads with llama-cpp-python's default
    (0) would never run a Metal kernel on a Mac. On this CPU build offloading changes nothing, and the token comes."""
    result = smoke_test.smoke_test_llama_cpp_python(write_smoke_model(tmp_path / "smoke.gguf"))
    assert result.ok, result.detail
    # llama-cpp-python hands llama.cpp "all" (-1) as INT32_MAX: more than the smoke model's one layer and output.
    assert result.gpu_layers is not None and result.gpu_layers >= 2, result


def test_llama_server_is_the_portable_build_and_answers(tmp_path: Path) -> None:
    binary = llama_server_build.cached_binary()
    require(binary is not None, "llama-server built by scripts/build-llama-server.sh")
    _assert_portable(binary, llama_server_build.build_info()["cmake_args"])
    result = smoke_test.smoke_test_llama_server(binary, write_smoke_model(tmp_path / "smoke.gguf"))
    assert result.ok, result.detail
    assert len(result.detail) > 0


def test_a_crashing_build_is_reported_with_its_signal(tmp_path: Path) -> None:
    """A stand-in for a llama-server built for another CPU: it dies with SIGILL as such a build does."""
    impostor = tmp_path / "llama-server"
    impostor.write_text("#!/bin/sh\necho 'load_tensors: CPU model buffer size'\nkill -ILL $$\n")
    impostor.chmod(0o755)
    result = smoke_test.smoke_test_llama_server(impostor, write_smoke_model(tmp_path / "smoke.gguf"))
    assert not result.ok
    assert "SIGILL" in result.detail and "load_tensors" in result.detail


def _planted_cache(pip_cache: Path, tmp_path: Path) -> str:
    """Put a marked wheel where pip's wheel cache would look for the llama-cpp-python sdist; return its version."""
    python = Path(sys.executable)
    version = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('llama-cpp-python'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    report = subprocess.run(
        [str(python), "-m", "pip", "install", "--dry-run", "--quiet", "--no-deps", "--ignore-installed",
         "--no-binary", "llama-cpp-python", "--report", "-", f"llama-cpp-python=={version}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    download = json.loads(report.stdout)["install"][0]["download_info"]
    from pip._internal.cache import Cache
    from pip._internal.models.link import Link

    sha = download["archive_info"]["hashes"]["sha256"]
    parts = Cache(str(pip_cache))._get_cache_path_parts(Link(f"{download['url']}#sha256={sha}"))
    target = pip_cache.joinpath("wheels", *parts)
    target.mkdir(parents=True)
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    wheel = target / f"llama_cpp_python-{version}-{tag}-{tag}-linux_{platform.machine()}.whl"
    dist_info = f"llama_cpp_python-{version}.dist-info"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("llama_cpp/__init__.py", "")
        archive.writestr("llama_cpp/PLANTED_NATIVE_BUILD", "")
        archive.writestr(f"{dist_info}/METADATA", f"Metadata-Version: 2.1\nName: llama_cpp_python\nVersion: {version}\n")
        archive.writestr(f"{dist_info}/WHEEL", f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\nTag: {tag}-{tag}-linux_{platform.machine()}\n")
        archive.writestr(f"{dist_info}/RECORD", "")
    return version


def _venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    return path


def _holds_planted_wheel(venv: Path) -> bool:
    return any(venv.glob("lib/python*/site-packages/llama_cpp/PLANTED_NATIVE_BUILD"))


@pytest.mark.skipif(sys.platform != "linux", reason="the planted wheel is tagged for Linux")
def test_a_native_wheel_in_pips_cache_is_not_what_gets_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pip_cache = tmp_path / "pip-cache"
    version = _planted_cache(pip_cache, tmp_path)
    monkeypatch.setenv("PIP_CACHE_DIR", str(pip_cache))
    # The plant works: a plain install takes it from pip's cache without building.
    plain = _venv(tmp_path / "plain")
    subprocess.run([str(plain / "bin/pip"), "install", "-q", "--no-deps", f"llama-cpp-python=={version}"], check=True)
    assert _holds_planted_wheel(plain)
    # Setup's way installs our portable build instead.
    ours = _venv(tmp_path / "ours")
    subprocess.run([str(ours / "bin/pip"), "install", "-q", "--no-deps", "-e", str(REPO)], check=True)
    subprocess.run([str(REPO / "scripts/install-llama-cpp-python.sh"), str(ours)], check=True, cwd=REPO)
    assert not _holds_planted_wheel(ours)
    assert any(ours.glob("lib/python*/site-packages/llama_cpp/lib/libggml-cpu*"))
