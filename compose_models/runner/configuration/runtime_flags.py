"""Runtime flags from compose.yaml (``runtime_flags``), presets or ``configure -- FLAGS``, checked against an allow-list.

Flags are written in llama.cpp's ``llama-server`` spelling, as Docker Model Runner takes them.
Each allowed flag becomes, per backend, a command-line argument of the engine, a sampling default
(added to requests that do not set the field themselves), or one of the settings the scheduler
itself reads (context size, slots, embeddings). Anything else - any token holding a path
separator, and any value outside its flag's range (NaN and infinity included) - is refused with an
error that names the flag and what it expects, so nothing from a compose file or a request reaches
a command line or a request default unchecked. A llama-server tuning flag that llama-cpp-python has no
equivalent for (``--parallel``, ``--cont-batching``...) is accepted and has no effect there, so
one compose file runs on either backend. The batched engine takes ``--threads`` (and ``--parallel``, read
by the scheduler, as its slots); its other tuning flags have no effect there.
"""

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from compose_models.errors import UserError

LLAMA_SERVER = "llama-server"
LLAMA_CPP_PYTHON = "llama-cpp-python"
MLX = "mlx"
BATCHED = "batched"
_BATCHED_ARGUMENTS = ("--threads",)  # the batched engine's own spelling is llama-server's

# llama-cpp-python takes KV cache types as GGML type numbers.
_GGML_TYPES = {"f32": 0, "f16": 1, "q4_0": 2, "q4_1": 3, "q5_0": 6, "q5_1": 7, "q8_0": 8, "iq4_nl": 20, "bf16": 30}


INT32_MAX = 2**31 - 1  # llama.cpp reads its counts into C ints
MAX_PARALLEL = 64  # llama.cpp caps sequences itself (LLAMA_MAX_SEQ); a host engine gains nothing past a few dozen
MAX_THREADS = 256  # above any host's cores, yet fixed: a compose file written on a bigger machine still runs here
SEED_RANGE = (-1, 2**32 - 1)  # llama.cpp's seed is an unsigned 32-bit number; -1 picks one at random

_INTEGER = re.compile(r"-?[0-9]+")
_DECIMAL = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def _integer(low: int, high: int = INT32_MAX) -> Callable[[str], int]:
    """Plain ASCII digits only: the text goes to the engine as written, and C would not read ``1_0`` or ``٣``."""

    def parse(text: str) -> int:
        if not _INTEGER.fullmatch(text) or not low <= int(text) <= high:
            raise ValueError(f"an integer from {low} to {high}")
        return int(text)

    return parse


def _number(low: float, high: float | None = None, *, above_low: bool = False) -> Callable[[str], float]:
    """A finite decimal number: NaN or infinity would reach every request as an unsendable default."""
    expected = (
        f"a finite number from {low:g} to {high:g}" if high is not None
        else f"a finite number above {low:g}" if above_low else f"a finite number of at least {low:g}"
    )  # fmt: skip

    def parse(text: str) -> float:
        value = float(text) if _DECIMAL.fullmatch(text) else math.nan
        in_range = value > low if above_low else value >= low
        if not math.isfinite(value) or not in_range or (high is not None and value > high):
            raise ValueError(expected)
        return value

    return parse


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text.lower() not in choices:
            raise ValueError(f"one of {', '.join(choices)}")
        return text.lower()

    return parse


def _on_off(text: str) -> str:
    lowered = text.lower()
    if lowered in ("on", "off", "auto"):
        return lowered
    if lowered in ("true", "1"):
        return "on"
    if lowered in ("false", "0"):
        return "off"
    raise ValueError("on, off or auto")


def _tensor_split(text: str) -> str:
    """Proportions per GPU, e.g. ``3,1``."""
    parse = _number(0)
    try:
        for part in text.split(","):
            parse(part)
    except ValueError:
        raise ValueError("comma-separated finite numbers of at least 0, e.g. 3,1") from None
    return text


# A model reference as the store takes one: [registry[:port]/]name[/name...][:tag][@sha256:digest]
_REFERENCE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9._-]*(?::[0-9]+)?(?:/[A-Za-z0-9][A-Za-z0-9._-]*)*(?::[A-Za-z0-9._-]+)?(?:@sha256:[0-9a-f]{64})?"
)
DRAFT_SPELLINGS = ("--model-draft", "-md", "--spec-draft-model")


def _model_reference(text: str) -> str:
    """A model of the store, which the runner resolves to its file: never a path, which would reach the engine."""
    if not _REFERENCE.fullmatch(text) or ".." in text:
        raise ValueError("a model reference from the store (e.g. ai/smollm2:135M-Q4_K_M), not a path")
    return text


def _word(text: str) -> str:
    if not text.replace("-", "").replace("_", "").replace(".", "").replace(",", "").isalnum():
        raise ValueError("a name of letters, digits, '-', '_' and '.'")
    return text


@dataclass(frozen=True)
class _Flag:
    spellings: tuple[str, ...]  # the first ``--`` spelling is the one passed to llama-server
    parse: Callable[[str], object] | None  # None: a switch
    python: Callable[[object], list[str]] | None = None  # llama_cpp.server arguments; None: no effect there
    sampling: str | None = None  # a request field instead of an engine argument
    reserved: str | None = None  # read by the scheduler: "context", "parallel", "embedding", "reranking", "draft"

    @property
    def name(self) -> str:
        return next(s for s in self.spellings if s.startswith("--"))


def _python(option: str, convert: Callable[[Any], object] = lambda value: value) -> Callable[[object], list[str]]:
    def arguments(value: object) -> list[str]:
        converted = convert(value)
        return [f"--{option}", str(converted).lower() if isinstance(converted, bool) else str(converted)]

    return arguments


def _sample(spellings: tuple[str, ...], parse: Callable[[str], object], request_field: str) -> _Flag:
    return _Flag(spellings, parse, sampling=request_field)


_FLAGS: tuple[_Flag, ...] = (
    _Flag(("--ctx-size", "-c"), _integer(0), reserved="context"),  # against the trained context: the scheduler
    _Flag(("--parallel", "-np"), _integer(1, MAX_PARALLEL), reserved="parallel"),
    _Flag(("--embeddings", "--embedding"), None, reserved="embedding"),
    _Flag(("--reranking", "--rerank"), None, reserved="reranking"),  # the model is a reranker (``/rerank``)
    _Flag(DRAFT_SPELLINGS, _model_reference, reserved="draft"),  # resolved to its file by the scheduler
    _Flag(("--spec-draft-n-max", "--draft-max", "--draft-n"), _integer(0)),
    _Flag(("--spec-draft-n-min", "--draft-min"), _integer(0)),
    _Flag(("--spec-draft-p-min", "--draft-p-min"), _number(0, 1)),
    _Flag(("--n-gpu-layers", "-ngl", "--gpu-layers"), _integer(-1), _python("n_gpu_layers")),
    _Flag(("--threads", "-t"), _integer(1, MAX_THREADS), _python("n_threads")),
    _Flag(("--threads-batch", "-tb"), _integer(1, MAX_THREADS), _python("n_threads_batch")),
    _Flag(("--batch-size", "-b"), _integer(1), _python("n_batch")),
    _Flag(("--ubatch-size", "-ub"), _integer(1), _python("n_ubatch")),
    _Flag(("--flash-attn", "-fa"), _on_off, _python("flash_attn", lambda value: value == "on")),
    _Flag(("--cache-type-k", "-ctk"), _choice(*_GGML_TYPES), _python("type_k", _GGML_TYPES.__getitem__)),
    _Flag(("--cache-type-v", "-ctv"), _choice(*_GGML_TYPES), _python("type_v", _GGML_TYPES.__getitem__)),
    _Flag(("--no-kv-offload", "-nkvo"), None, lambda _: ["--offload_kqv", "false"]),
    _Flag(("--no-mmap",), None, lambda _: ["--use_mmap", "false"]),
    _Flag(("--mlock",), None, lambda _: ["--use_mlock", "true"]),
    _Flag(("--rope-freq-base",), _number(0), _python("rope_freq_base")),  # 0: the model's own
    _Flag(("--rope-freq-scale",), _number(0), _python("rope_freq_scale")),
    _Flag(("--yarn-orig-ctx",), _integer(0), _python("yarn_orig_ctx")),
    _Flag(("--main-gpu", "-mg"), _integer(0), _python("main_gpu")),
    _Flag(("--split-mode", "-sm"), _choice("none", "layer", "row")),
    _Flag(("--tensor-split", "-ts"), _tensor_split),
    _Flag(("--cont-batching", "-cb"), None),
    _Flag(("--no-cont-batching", "-nocb"), None),
    _Flag(("--cache-reuse",), _integer(0)),
    _Flag(("--keep",), _integer(-1)),  # -1: all of the prompt
    _Flag(("--swa-full",), None),
    _Flag(("--kv-unified", "-kvu"), None),
    _Flag(("--no-warmup",), None),
    _Flag(("--jinja",), None),  # llama-server always gets --jinja; llama-cpp-python uses the GGUF's template
    _Flag(("--chat-template",), _word),  # a built-in template name; files are refused as paths
    _Flag(("--reasoning-budget",), _integer(-1)),  # -1: unlimited
    _Flag(("--reasoning-format",), _word),
    _Flag(("--pooling",), _choice("none", "mean", "cls", "last", "rank")),
    _Flag(("--metrics",), None),
    _Flag(("--slots",), None),
    _Flag(("--no-slots",), None),
    _Flag(("--verbose", "-v"), None, lambda _: ["--verbose", "true"]),
    # The ranges a request may ask for itself (the OpenAI schema's), where it has one.
    _sample(("--temp", "--temperature"), _number(0), "temperature"),
    _sample(("--top-k",), _integer(0), "top_k"),  # 0: off
    _sample(("--top-p",), _number(0, 1), "top_p"),
    _sample(("--min-p",), _number(0, 1), "min_p"),
    _sample(("--repeat-penalty",), _number(0, above_low=True), "repeat_penalty"),  # logits are divided by it
    _sample(("--presence-penalty",), _number(-2, 2), "presence_penalty"),
    _sample(("--frequency-penalty",), _number(-2, 2), "frequency_penalty"),
    _sample(("--seed", "-s"), _integer(*SEED_RANGE), "seed"),
    _sample(("--n-predict", "-n", "--predict"), _integer(-1), "max_tokens"),  # -1: until the end
)

_BY_SPELLING: dict[str, _Flag] = {spelling: flag for flag in _FLAGS for spelling in flag.spellings}


@dataclass
class RuntimeOptions:
    """What a list of runtime flags means, for every backend."""

    context_size: int | None = None
    parallel: int | None = None
    embedding: bool = False
    reranking: bool = False
    pooling: str | None = None
    draft_model: str | None = None  # a model reference, never a path
    kv_cache_types: tuple[str, str] = ("f16", "f16")
    sampling_defaults: dict[str, object] = field(default_factory=dict)
    engine_flags: list[tuple[_Flag, object, str | None]] = field(default_factory=list)  # flag, value, its text

    def arguments_for(self, backend: str) -> tuple[str, ...]:
        """The engine command-line arguments of ``backend`` these flags stand for."""
        arguments: list[str] = []
        for flag, value, text in self.engine_flags:
            if backend == LLAMA_SERVER:
                arguments += [flag.name] if text is None else [flag.name, text]
            elif backend == LLAMA_CPP_PYTHON and flag.python is not None:
                arguments += flag.python(value)
            elif backend == BATCHED and flag.name in _BATCHED_ARGUMENTS:
                arguments += [flag.name, str(value)]
        return tuple(arguments)


def parse_runtime_flags(flags: list[str], backend: str = LLAMA_SERVER) -> RuntimeOptions:
    """Check ``flags`` against ``backend``'s allow-list and say what they mean; UserError names a refused flag."""
    for index, token in enumerate(flags):
        if _is_draft_model(flags, index):
            continue  # a model reference (ai/smollm2): checked as one, and resolved to a path by the runner
        if "/" in token or "\\" in token:
            owner = token if token.startswith("-") or index == 0 else flags[index - 1]
            raise UserError(
                f"runtime flag {owner.partition('=')[0]!r} refused: {token!r} looks like a path, "
                "and paths are not allowed in runtime flags"
            )
    options = RuntimeOptions()
    position = 0
    while position < len(flags):
        token = flags[position]
        position += 1
        if not token.startswith("-"):
            raise UserError(f"runtime flag value {token!r} does not follow a flag that takes a value")
        name, has_inline, inline_value = token.partition("=")
        flag = _BY_SPELLING.get(name)
        if flag is None:
            raise UserError(f"runtime flag {name!r} is not allowed (allowed: {allowed_flags_text()})")
        if flag.parse is None:
            if has_inline:
                raise UserError(f"runtime flag {name!r} is a switch and takes no value")
            _record(options, flag, True, None, backend)
            continue
        if has_inline:
            text = inline_value
        elif position < len(flags) and not _looks_like_flag(flags[position]):
            text = flags[position]
            position += 1
        else:
            raise UserError(f"runtime flag {name!r} needs a value")
        if _looks_like_flag(text):
            raise UserError(f"runtime flag {name!r} has a value that looks like a flag: {text!r}")
        try:
            value = flag.parse(text)
        except ValueError as expected:
            raise UserError(f"runtime flag {name!r} has an invalid value {text!r}: expected {expected}") from None
        _record(options, flag, value, text, backend)
    return options


def _is_draft_model(flags: list[str], index: int) -> bool:
    """Whether ``flags[index]`` is a draft model's reference, inline (``--model-draft=REF``) or after its flag."""
    name, inline, _ = flags[index].partition("=")
    return (name in DRAFT_SPELLINGS and bool(inline)) or (index > 0 and flags[index - 1] in DRAFT_SPELLINGS)


def _record(options: RuntimeOptions, flag: _Flag, value: Any, text: str | None, backend: str) -> None:
    if flag.sampling:
        options.sampling_defaults[flag.sampling] = value
    elif flag.reserved == "context":
        options.context_size = int(value) or None  # 0 means "unset", as in Docker Model Runner
    elif flag.reserved == "parallel":
        options.parallel = int(value)
    elif flag.reserved == "embedding":
        options.embedding = True
    elif flag.reserved == "reranking":
        options.reranking = True
    elif flag.reserved == "draft":
        options.draft_model = str(value)
    elif backend == MLX:
        raise UserError(f"runtime flag {flag.name!r} is not allowed for the mlx backend (it takes sampling flags only)")
    else:
        if flag.name == "--pooling":
            options.pooling = str(value)
        if flag.name == "--cache-type-k":
            options.kv_cache_types = (str(value), options.kv_cache_types[1])
        if flag.name == "--cache-type-v":
            options.kv_cache_types = (options.kv_cache_types[0], str(value))
        options.engine_flags.append((flag, value, text))


def _looks_like_flag(token: str) -> bool:
    """A negative number is a value, not a flag (unlike Docker Model Runner, which refuses ``-ngl -1``)."""
    if not token.startswith("-"):
        return False
    try:
        float(token)
    except ValueError:
        return True
    return False


def allowed_flags_text() -> str:
    return ", ".join(sorted(flag.name for flag in _FLAGS))
