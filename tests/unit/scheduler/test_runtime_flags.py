"""Runtime flags: the allow-list, refusals that name the flag, and what each backend is given."""

import pytest

from compose_models.errors import UserError
from compose_models.runner.configuration.runtime_flags import BATCHED, LLAMA_CPP_PYTHON, LLAMA_SERVER, MLX, parse_runtime_flags


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


def test_the_batched_engine_gets_its_threads_and_ignores_other_tuning() -> None:
    flags = ["-t", "2", "--parallel", "3", "--cont-batching", "--no-mmap", "-fa", "on"]
    options = parse_runtime_flags(flags, BATCHED)
    assert options.arguments_for(BATCHED) == ("--threads", "2")
    assert options.parallel == 3


def test_scheduler_settings_are_read_not_passed() -> None:
    options = parse_runtime_flags(["-c", "8192", "--embeddings", "-np", "2"])
    assert (options.context_size, options.embedding, options.parallel) == (8192, True, 2)
    assert options.arguments_for(LLAMA_SERVER) == ()
    assert parse_runtime_flags(["--ctx-size=0"]).context_size is None


def test_mlx_takes_sampling_flags_only() -> None:
    assert parse_runtime_flags(["--temp", "0.3"], MLX).sampling_defaults == {"temperature": 0.3}
    with pytest.raises(UserError, match="--threads"):
        parse_runtime_flags(["--threads", "2"], MLX)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--temp", "nan"], "'--temp' has an invalid value 'nan': expected a finite number of at least 0"),
        (["--temp", "-0.5"], "'--temp' has an invalid value '-0.5': expected a finite number of at least 0"),
        (["--temp", "1e999"], "'--temp' has an invalid value '1e999': expected a finite number"),
        (["--top-p", "inf"], "'--top-p' has an invalid value 'inf': expected a finite number from 0 to 1"),
        (["--min-p=1.5"], "'--min-p' has an invalid value '1.5': expected a finite number from 0 to 1"),
        (["--repeat-penalty", "0"], "'--repeat-penalty' has an invalid value '0': expected a finite number above 0"),
        (["--presence-penalty", "3"], "'--presence-penalty' has an invalid value '3': expected a finite number from -2 to 2"),
        (["--parallel", "65"], "'--parallel' has an invalid value '65': expected an integer from 1 to 64"),
        (["-t", "100000"], "'-t' has an invalid value '100000': expected an integer from 1 to 256"),
        (["--threads-batch", "0"], "'--threads-batch' has an invalid value '0': expected an integer from 1 to 256"),
        (["--threads", "1_0"], "'--threads' has an invalid value '1_0': expected an integer"),  # C cannot read it
        (["--batch-size", "99999999999"], "'--batch-size' has an invalid value '99999999999': expected an integer from 1 to 2147483647"),
        (["--seed", "4294967296"], "'--seed' has an invalid value '4294967296': expected an integer from -1 to 4294967295"),
        (["--ctx-size", "-5"], "'--ctx-size' has an invalid value '-5': expected an integer from 0"),
        (["-ctk", "q9"], "'-ctk' has an invalid value 'q9': expected one of f32, f16"),
        (["--pooling", "max"], "'--pooling' has an invalid value 'max': expected one of none, mean, cls, last, rank"),
        (["--tensor-split", "3,x"], "'--tensor-split' has an invalid value '3,x': expected comma-separated finite numbers"),
    ],
)
def test_values_outside_their_flags_range_are_refused_saying_what_is_expected(flags: list[str], message: str) -> None:
    with pytest.raises(UserError) as raised:
        parse_runtime_flags(flags)
    assert message in str(raised.value)


def test_values_at_the_ends_of_their_ranges_are_accepted() -> None:
    flags = ["--temp", "0", "--top-p", "1", "--min-p", "0", "-np", "64", "-t", "256", "--seed", "-1", "-ts", "3,1"]
    options = parse_runtime_flags(flags)
    assert options.sampling_defaults == {"temperature": 0.0, "top_p": 1.0, "min_p": 0.0, "seed": -1}
    assert options.parallel == 64
    assert options.arguments_for(LLAMA_SERVER) == ("--threads", "256", "--tensor-split", "3,1")


@pytest.mark.parametrize(
    "flags",
    [["--model-draft", "ai/smollm2"], ["-md", "localhost:5000/team/draft:q4"], ["--model-draft=ai/smollm2:135M"],
     ["--spec-draft-model", "smollm2"]],
)  # fmt: skip
def test_a_draft_model_is_a_store_reference_kept_off_the_command_line(flags: list[str]) -> None:
    options = parse_runtime_flags([*flags, "--spec-draft-n-max", "8"], LLAMA_SERVER)
    assert options.draft_model == flags[-1].rpartition("=")[2]
    assert options.arguments_for(LLAMA_SERVER) == ("--spec-draft-n-max", "8")  # the scheduler adds the file


@pytest.mark.parametrize(
    "flags",
    [["--model-draft", "/etc/passwd"], ["--model-draft=../x.gguf"], ["-md", "a/../b"], ["-md", "C:\\x.gguf"],
     ["-md", "~/x.gguf"], ["--model-draft", "./x"]],
)  # fmt: skip
def test_a_draft_model_that_is_a_path_is_refused(flags: list[str]) -> None:
    with pytest.raises(UserError, match="not a path"):
        parse_runtime_flags(flags)


def test_a_path_after_a_draft_reference_is_still_refused() -> None:
    with pytest.raises(UserError, match="looks like a path"):
        parse_runtime_flags(["--model-draft", "ai/smollm2", "--chat-template", "a/b"])


def test_reranking_and_pooling_are_read_for_the_scheduler() -> None:
    options = parse_runtime_flags(["--reranking", "--pooling", "rank"], LLAMA_SERVER)
    assert options.reranking and options.pooling == "rank"
    assert options.arguments_for(LLAMA_SERVER) == ("--pooling", "rank")  # --reranking goes with the mode
