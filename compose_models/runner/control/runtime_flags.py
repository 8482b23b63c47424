"""Runtime flags from compose.yaml (``runtime_flags``), presets or ``configure -- FLAGS``, checked against an allow-list.

Flags are written in llama.cpp's ``llama-server`` spelling, as Docker Model Runner takes them.
Each allowed flag becomes, per backend, a command-line argument of the engine, a sampling default
(added to requests that do not set the field themselves), or one of the settings the scheduler
itself reads (context size, slots, embeddings). Anything else - and any token holding a path
separator - is refused with an error that names the flag, so nothing from a compose file or a
request reaches a command line unchecked. A llama-server tuning flag that llama-cpp-python has no
equivalent for (``--parallel``, ``--cont-batching``...) is accepted and has no effect there, so
one compose file runs on either backend.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from compose_models.errors import UserError

LLAMA_SERVER = "llama-server"
LLAMA_CPP_PYTHON = "llama-cpp-python"
MLX = "mlx"

# llama-cpp-python takes KV cache types as GGML type numbers.
_GGML_TYPES = {"f32": 0, "f16": 1, "q4_0": 2, "q4_1": 3, "q5_0": 6, "q5_1": 7, "q8_0": 8, "iq4_nl": 20, "bf16": 30}


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def _on_off(text: str) -> str:
    lowered = text.lower()
    if lowered in ("on", "off", "auto"):
        return lowered
    if lowered in ("true", "1"):
        return "on"
    if lowered in ("false", "0"):
        return "off"
    raise ValueError(text)


def _cache_type(text: str) -> str:
    if text.lower() not in _GGML_TYPES:
        raise ValueError(text)
    return text.lower()


def _word(text: str) -> str:
    if not text.replace("-", "").replace("_", "").replace(".", "").replace(",", "").isalnum():
        raise ValueError(text)
    return text


@dataclass(frozen=True)
class _Flag:
    spellings: tuple[str, ...]  # the first ``--`` spelling is the one passed to llama-server
    parse: Callable[[str], object] | None  # None: a switch
    python: Callable[[object], list[str]] | None = None  # llama_cpp.server arguments; None: no effect there
    sampling: str | None = None  # a request field instead of an engine argument
    reserved: str | None = None  # read by the scheduler: "context", "parallel", "embedding"

    @property
    def name(self) -> str:
        return next(s for s in self.spellings if s.startswith("--"))


def _python(option: str, convert: Callable[[object], object] = lambda value: value) -> Callable[[object], list[str]]:
    def arguments(value: object) -> list[str]:
        converted = convert(value)
        return [f"--{option}", str(converted).lower() if isinstance(converted, bool) else str(converted)]

    return arguments


def _sample(spellings: tuple[str, ...], parse: Callable[[str], object], request_field: str) -> _Flag:
    return _Flag(spellings, parse, sampling=request_field)


_FLAGS: tuple[_Flag, ...] = (
    _Flag(("--ctx-size", "-c"), _non_negative_int, reserved="context"),
    _Flag(("--parallel", "-np"), _positive_int, reserved="parallel"),
    _Flag(("--embeddings", "--embedding"), None, reserved="embedding"),
    _Flag(("--n-gpu-layers", "-ngl", "--gpu-layers"), int, _python("n_gpu_layers")),
    _Flag(("--threads", "-t"), _positive_int, _python("n_threads")),
    _Flag(("--threads-batch", "-tb"), _positive_int, _python("n_threads_batch")),
    _Flag(("--batch-size", "-b"), _positive_int, _python("n_batch")),
    _Flag(("--ubatch-size", "-ub"), _positive_int, _python("n_ubatch")),
    _Flag(("--flash-attn", "-fa"), _on_off, _python("flash_attn", lambda value: value == "on")),
    _Flag(("--cache-type-k", "-ctk"), _cache_type, _python("type_k", _GGML_TYPES.__getitem__)),
    _Flag(("--cache-type-v", "-ctv"), _cache_type, _python("type_v", _GGML_TYPES.__getitem__)),
    _Flag(("--no-kv-offload", "-nkvo"), None, lambda _: ["--offload_kqv", "false"]),
    _Flag(("--no-mmap",), None, lambda _: ["--use_mmap", "false"]),
    _Flag(("--mlock",), None, lambda _: ["--use_mlock", "true"]),
    _Flag(("--rope-freq-base",), float, _python("rope_freq_base")),
    _Flag(("--rope-freq-scale",), float, _python("rope_freq_scale")),
    _Flag(("--yarn-orig-ctx",), _non_negative_int, _python("yarn_orig_ctx")),
    _Flag(("--main-gpu", "-mg"), _non_negative_int, _python("main_gpu")),
    _Flag(("--split-mode", "-sm"), _word),
    _Flag(("--tensor-split", "-ts"), _word),
    _Flag(("--cont-batching", "-cb"), None),
    _Flag(("--no-cont-batching", "-nocb"), None),
    _Flag(("--cache-reuse",), _non_negative_int),
    _Flag(("--keep",), int),
    _Flag(("--swa-full",), None),
    _Flag(("--kv-unified", "-kvu"), None),
    _Flag(("--no-warmup",), None),
    _Flag(("--jinja",), None),  # llama-server always gets --jinja; llama-cpp-python uses the GGUF's template
    _Flag(("--chat-template",), _word),  # a built-in template name; files are refused as paths
    _Flag(("--reasoning-budget",), int),
    _Flag(("--reasoning-format",), _word),
    _Flag(("--pooling",), _word),
    _Flag(("--metrics",), None),
    _Flag(("--slots",), None),
    _Flag(("--no-slots",), None),
    _Flag(("--verbose", "-v"), None, lambda _: ["--verbose", "true"]),
    _sample(("--temp", "--temperature"), float, "temperature"),
    _sample(("--top-k",), int, "top_k"),
    _sample(("--top-p",), float, "top_p"),
    _sample(("--min-p",), float, "min_p"),
    _sample(("--repeat-penalty",), float, "repeat_penalty"),
    _sample(("--presence-penalty",), float, "presence_penalty"),
    _sample(("--frequency-penalty",), float, "frequency_penalty"),
    _sample(("--seed", "-s"), int, "seed"),
    _sample(("--n-predict", "-n", "--predict"), int, "max_tokens"),
)

_BY_SPELLING: dict[str, _Flag] = {spelling: flag for flag in _FLAGS for spelling in flag.spellings}


@dataclass
class RuntimeOptions:
    """What a list of runtime flags means, for every backend."""

    context_size: int | None = None
    parallel: int | None = None
    embedding: bool = False
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
        return tuple(arguments)


def parse_runtime_flags(flags: list[str], backend: str = LLAMA_SERVER) -> RuntimeOptions:
    """Check ``flags`` against ``backend``'s allow-list and say what they mean; UserError names a refused flag."""
    for index, token in enumerate(flags):
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
        except (ValueError, KeyError):
            raise UserError(f"runtime flag {name!r} has an invalid value {text!r}") from None
        _record(options, flag, value, text, backend)
    return options


def _record(options: RuntimeOptions, flag: _Flag, value: object, text: str | None, backend: str) -> None:
    if flag.sampling:
        options.sampling_defaults[flag.sampling] = value
    elif flag.reserved == "context":
        options.context_size = int(value) or None  # 0 means "unset", as in Docker Model Runner
    elif flag.reserved == "parallel":
        options.parallel = int(value)
    elif flag.reserved == "embedding":
        options.embedding = True
    elif backend == MLX:
        raise UserError(f"runtime flag {flag.name!r} is not allowed for the mlx backend (it takes sampling flags only)")
    else:
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
