"""Runtime flags from compose.yaml (``runtime_flags``) or ``configure -- FLAGS``, checked against an allow-list.

Flags are written in llama.cpp's ``llama-server`` spelling, as Docker Model Runner takes them.
Each allowed flag maps either to an engine setting (how the engine process is started) or to a
sampling default (added to requests that do not set the field themselves). Anything else - and
any token holding a path separator - is refused with an error that names the flag, so nothing
from a compose file or a request reaches a command line unchecked.
"""

from dataclasses import dataclass, field
from typing import Callable

from compose_models.errors import UserError


@dataclass(frozen=True)
class _Flag:
    target: str  # engine setting name or request field name
    kind: Callable[[str], object] | None  # value parser; None for a switch
    is_sampling: bool = False
    switch_value: object = True


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


def _on_off(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("on", "true", "1", "auto"):
        return True
    if lowered in ("off", "false", "0"):
        return False
    raise ValueError(text)


_ENGINE_FLAGS: dict[tuple[str, ...], _Flag] = {
    ("-c", "--ctx-size"): _Flag("n_ctx", _positive_int),
    ("-ngl", "--n-gpu-layers", "--gpu-layers"): _Flag("n_gpu_layers", int),
    ("-t", "--threads"): _Flag("n_threads", _positive_int),
    ("-tb", "--threads-batch"): _Flag("n_threads_batch", _positive_int),
    ("-b", "--batch-size"): _Flag("n_batch", _positive_int),
    ("-ub", "--ubatch-size"): _Flag("n_ubatch", _positive_int),
    ("-fa", "--flash-attn"): _Flag("flash_attn", _on_off),
    ("--no-mmap",): _Flag("use_mmap", None, switch_value=False),
    ("--mlock",): _Flag("use_mlock", None),
    ("--embedding", "--embeddings"): _Flag("embedding", None),
    ("--rope-freq-base",): _Flag("rope_freq_base", float),
    ("--rope-freq-scale",): _Flag("rope_freq_scale", float),
    ("--jinja",): _Flag("jinja", None),  # llama-cpp-python always uses the GGUF's template
    ("-v", "--verbose"): _Flag("verbose", None),
}

_SAMPLING_FLAGS: dict[tuple[str, ...], _Flag] = {
    ("--temp", "--temperature"): _Flag("temperature", float, is_sampling=True),
    ("--top-k",): _Flag("top_k", int, is_sampling=True),
    ("--top-p",): _Flag("top_p", float, is_sampling=True),
    ("--min-p",): _Flag("min_p", float, is_sampling=True),
    ("--repeat-penalty",): _Flag("repeat_penalty", float, is_sampling=True),
    ("--presence-penalty",): _Flag("presence_penalty", float, is_sampling=True),
    ("--frequency-penalty",): _Flag("frequency_penalty", float, is_sampling=True),
    ("-s", "--seed"): _Flag("seed", int, is_sampling=True),
    ("-n", "--n-predict", "--predict"): _Flag("max_tokens", int, is_sampling=True),
}

_ALLOWED: dict[str, _Flag] = {
    spelling: flag
    for table in (_ENGINE_FLAGS, _SAMPLING_FLAGS)
    for spellings, flag in table.items()
    for spelling in spellings
}


@dataclass
class RuntimeOptions:
    """What a list of runtime flags means for one engine."""

    engine: dict[str, object] = field(default_factory=dict)
    sampling_defaults: dict[str, object] = field(default_factory=dict)


def parse_runtime_flags(flags: list[str]) -> RuntimeOptions:
    """Check ``flags`` against the allow-list and split them into engine settings and sampling defaults."""
    options = RuntimeOptions()
    tokens = list(flags)
    position = 0
    while position < len(tokens):
        token = tokens[position]
        position += 1
        if "/" in token or "\\" in token:
            raise UserError(f"runtime flag {token!r} refused: paths are not allowed in runtime flags")
        if not token.startswith("-"):
            raise UserError(f"runtime flag value {token!r} does not follow a flag that takes a value")
        name, has_inline, inline_value = token.partition("=")
        flag = _ALLOWED.get(name)
        if flag is None:
            raise UserError(f"runtime flag {name!r} is not allowed for llama.cpp (allowed: {allowed_flags_text()})")
        if flag.kind is None:
            if has_inline:
                raise UserError(f"runtime flag {name!r} is a switch and takes no value")
            value: object = flag.switch_value
        else:
            if has_inline:
                text = inline_value
            elif position < len(tokens) and not _looks_like_flag(tokens[position]):
                text = tokens[position]
                position += 1
            else:
                raise UserError(f"runtime flag {name!r} needs a value")
            try:
                value = flag.kind(text)
            except ValueError:
                raise UserError(f"runtime flag {name!r} has an invalid value {text!r}") from None
        (options.sampling_defaults if flag.is_sampling else options.engine)[flag.target] = value
    return options


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
    return ", ".join(sorted({s for s in _ALLOWED if s.startswith("--")}))
