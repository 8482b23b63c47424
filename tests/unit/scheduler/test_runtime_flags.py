"""Runtime flags: the allow-list, refusals that name the flag, and what each backend is given."""

import pytest

from compose_models.errors import UserError
from compose_models.runner.control.runtime_flags import LLAMA_CPP_PYTHON, LLAMA_SERVER, MLX, parse_runtime_flags


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--model", "x"], "--model"),
        (["--host", "0.0.0.0"], "--host"),
        (["--port", "80"], "--port"),
        (["--log-file", "x"], "--log-file"),
        (["--api-key", "k"], "--api-key"),
        (["--alias", "other"], "--alias"),
        (["--lora", "adapter"], "--lora"),
        (["--temp", "0.1", "--mmproj=x"], "--mmproj"),
        (["--chat-template", "a/b"], "'--chat-template'"),
        (["--tensor-split", "..\\x"], "'--tensor-split'"),
        (["--reasoning-format=a/b"], "'--reasoning-format'"),
        (["--seed=--log-file=x"], "--seed"),
        (["--threads"], "--threads"),
        (["--threads", "many"], "--threads"),
        (["--mlock=yes"], "--mlock"),
        (["stray"], "stray"),
    ],
)
def test_refused_flags_are_named(flags: list[str], named: str) -> None:
    with pytest.raises(UserError) as raised:
        parse_runtime_flags(flags)
    assert named in str(raised.value)


def test_paths_are_refused_whatever_the_flag() -> None:
    with pytest.raises(UserError, match="'--temp' refused: '/etc/passwd' looks like a path"):
        parse_runtime_flags(["--temp", "/etc/passwd"])


def test_llama_server_gets_its_own_spelling() -> None:
    options = parse_runtime_flags(["-ngl", "-1", "-t=2", "-fa", "on", "-cb", "--temp", "0.2"], LLAMA_SERVER)
    assert options.arguments_for(LLAMA_SERVER) == (
        "--n-gpu-layers", "-1", "--threads", "2", "--flash-attn", "on", "--cont-batching",
    )  # fmt: skip
    assert options.sampling_defaults == {"temperature": 0.2}


def test_llama_cpp_python_gets_settings_and_ignores_server_only_tuning() -> None:
    flags = ["--threads", "2", "--parallel", "4", "--cont-batching", "--no-mmap", "-ctk", "q8_0", "-fa", "on"]
    options = parse_runtime_flags(flags, LLAMA_CPP_PYTHON)
    assert options.arguments_for(LLAMA_CPP_PYTHON) == (
        "--n_threads", "2", "--use_mmap", "false", "--type_k", "8", "--flash_attn", "true",
    )  # fmt: skip
    assert options.parallel == 4
    assert options.kv_cache_types == ("q8_0", "f16")


def test_scheduler_settings_are_read_not_passed() -> None:
    options = parse_runtime_flags(["-c", "8192", "--embeddings", "-np", "2"])
    assert (options.context_size, options.embedding, options.parallel) == (8192, True, 2)
    assert options.arguments_for(LLAMA_SERVER) == ()
    assert parse_runtime_flags(["--ctx-size=0"]).context_size is None


def test_mlx_takes_sampling_flags_only() -> None:
    assert parse_runtime_flags(["--temp", "0.3"], MLX).sampling_defaults == {"temperature": 0.3}
    with pytest.raises(UserError, match="--threads"):
        parse_runtime_flags(["--threads", "2"], MLX)
