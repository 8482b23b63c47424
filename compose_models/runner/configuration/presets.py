"""Named runtime-flag sets: ``configure --preset NAME`` and ``x-preset: NAME`` under a compose model.

A preset's flags come first, so flags given with it override its choices.
"""

from compose_models.errors import UserError

PRESETS: dict[str, tuple[str, ...]] = {
    # Balanced answers for assistants and agents.
    "chat": ("--temp", "0.7", "--top-p", "0.9", "--min-p", "0.05"),
    # Near-deterministic output that keeps to syntax.
    "code": ("--temp", "0.2", "--top-p", "0.95", "--repeat-penalty", "1.0"),
    # Varied wording for writing and brainstorming.
    "creative": ("--temp", "1.0", "--top-p", "0.95", "--min-p", "0.02", "--repeat-penalty", "1.1"),
    # 32k tokens per request; flash attention and a q8_0 KV cache roughly halve the cache's memory.
    "long-context": ("--ctx-size", "32768", "--flash-attn", "on", "--cache-type-k", "q8_0", "--cache-type-v", "q8_0"),
}


def preset_flags(name: str) -> list[str]:
    try:
        return list(PRESETS[name])
    except KeyError:
        raise UserError(f"unknown preset {name!r} (presets: {', '.join(PRESETS)})") from None


def with_preset(preset: str | None, flags: list[str]) -> list[str]:
    """``flags`` preceded by the preset's, so the explicit ones win."""
    return (preset_flags(preset) if preset else []) + list(flags)
