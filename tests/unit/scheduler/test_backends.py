"""Backend choice: llama-server when present (or pinned), the batched engine otherwise, MLX for safetensors on Apple silicon."""

import re
from pathlib import Path

import pytest

from compose_models.runner.backends import catalog, llama_server, mlx
from compose_models.runner.backends.engine import EngineSpec


@pytest.fixture
def fake_llama_server(tmp_path: Path) -> Path:
    binary = tmp_path / "bin" / "llama-server"
    binary.parent.mkdir()
    binary.write_text('#!/bin/sh\necho "version: 4242 (cafe123)" >&2\necho "Available devices:"\necho "  CUDA0: Fake GPU"\n')
    binary.chmod(0o755)
    return binary


@pytest.fixture(autouse=True)
def no_llama_server_anywhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(llama_server.PATH_VARIABLE, raising=False)
    monkeypatch.delenv(catalog.BACKEND_VARIABLE, raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("COMPOSE_MODELS_CACHE", str(tmp_path / "empty-cache"))


def test_the_batched_engine_without_llama_server() -> None:
    assert catalog.backend_for_format("gguf") == "batched"
    assert re.fullmatch(r"Running: batched engine on llama-cpp-python 0\.3\.\S+, .+", catalog.backend_status()["llama.cpp"])
    assert catalog.backend_status()["llama-server"].startswith("Not Installed: run `compose-models install-runner")


def test_llama_server_path_names_the_binary_or_its_directory(fake_llama_server: Path, monkeypatch) -> None:
    for value in (fake_llama_server, fake_llama_server.parent):
        monkeypatch.setenv(llama_server.PATH_VARIABLE, str(value))
        assert llama_server.find_binary() == fake_llama_server
        assert catalog.backend_for_format("gguf") == "llama-server"


def test_llama_server_on_path_is_preferred_unless_pinned_away(fake_llama_server: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(fake_llama_server.parent))
    assert catalog.llama_backend() == "llama-server"
    monkeypatch.setenv(catalog.BACKEND_VARIABLE, "llama-cpp-python")
    assert catalog.llama_backend() == "llama-cpp-python"


def test_pinning_a_missing_llama_server_says_how_to_install_it(monkeypatch) -> None:
    monkeypatch.setenv(catalog.BACKEND_VARIABLE, "llama-server")
    with pytest.raises(catalog.BackendUnavailable, match="install-runner --backend llama-server"):
        catalog.llama_backend()


def test_status_shows_each_backend_with_version_and_accelerator(fake_llama_server: Path, monkeypatch) -> None:
    monkeypatch.setenv(llama_server.PATH_VARIABLE, str(fake_llama_server))
    status = catalog.backend_status()
    assert status["llama.cpp"] == f"Running: llama-server 4242 (cafe123), cuda, not smoke-tested yet, {fake_llama_server}"
    assert status["llama-server"] == status["llama.cpp"]
    assert re.fullmatch(
        r"Running: llama-cpp-python 0\.3\.\S+, (cpu|metal|cuda), (not smoke-tested yet|CPU .+, smoke test passed)",
        status["llama-cpp-python"],
    ), status["llama-cpp-python"]
    assert set(status) == {"llama.cpp", "llama-server", "llama-cpp-python", "mlx"}


def test_mlx_is_refused_off_apple_silicon(monkeypatch) -> None:
    monkeypatch.setattr(mlx, "platform_supported", lambda: False)
    with pytest.raises(catalog.BackendUnavailable, match="not available on this platform"):
        catalog.backend_for_format("safetensors")
    assert catalog.backend_status()["mlx"].startswith("Not Installed: MLX is not available on this platform")


def test_llama_server_command_shares_one_kv_cache_among_requested_slots(tmp_path: Path) -> None:
    spec = EngineSpec("llama-server", tmp_path / "m.gguf", "ai/m", 2048, parallel=2, arguments=("--threads", "2"))
    argv = llama_server.LlamaServerEngine(spec, tmp_path / "log", tmp_path / "llama-server").command()
    assert argv[argv.index("--ctx-size") + 1] == "2048"
    assert argv[argv.index("--parallel") + 1] == "2" and "--kv-unified" in argv
    assert argv[-2:] == ["--threads", "2"] and "--jinja" in argv


def test_embeddings_of_a_chat_model_are_mean_pooled_on_llama_server() -> None:
    assert llama_server.pooling_arguments({"general.architecture": "llama"}) == ("--pooling", "mean")
    assert llama_server.pooling_arguments({"general.architecture": "bert", "bert.pooling_type": "2"}) == ()
