"""Durations, times and byte sizes, parsed and written in the exact spellings Go, Docker Model Runner,
gguf-parser and the docker CLI use, so what we print and serve reads as theirs."""

import math
import re
import time
from datetime import UTC, datetime

from compose_models.errors import UserError

# Durations

_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_LONGEST_SECONDS = (2**63 - 1) / 1e9  # Go's time.Duration


def parse_duration(value: object) -> float:
    """Seconds from ``"5m"``, ``"1h30m"``, ``"-1"``, ``"300"`` or a number; ValueError otherwise, also for
    NaN, infinity (which ``format_duration`` cannot write) and what a Go duration cannot hold (about
    292 years), as Go's ``time.ParseDuration`` refuses it."""
    seconds = _seconds_of(value)
    if not abs(seconds) <= _LONGEST_SECONDS:
        raise ValueError(f"not a duration: {value!r} (out of range)")
    return seconds


def _seconds_of(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, (int, float)):
        return _finite(float(value), value)
    if not isinstance(value, str):
        raise ValueError(f"not a duration: {value!r}")
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return _finite(seconds, value)
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    parts = _DURATION_PART.findall(body)
    if not body or "".join(number + unit for number, unit in parts) != body:
        raise ValueError(f"not a duration: {value!r} (expected e.g. 5m, 1h30m, 300 or -1)")
    return _finite(sign * sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts), value)


def _finite(seconds: float, value: object) -> float:
    """NaN would never compare as expired, and infinity cannot be written as a Go duration."""
    if not math.isfinite(seconds):
        raise ValueError(f"not a duration: {value!r} (expected a finite number of seconds, or -1 for ever)")
    return seconds


def format_duration(seconds: float) -> str:
    """Go's ``time.Duration.String()`` for whole and fractional seconds, e.g. ``5m0s``, ``1h0m0s``, ``-1``."""
    if seconds < 0:
        return "-1"
    if seconds == 0:
        return "0s"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{secs:g}s"
    if hours or minutes:
        text = f"{int(minutes)}m{text}"
    if hours:
        text = f"{int(hours)}h{text}"
    return text


def human_duration(seconds: float) -> str:
    """go-units ``HumanDuration``: ``"2 minutes"``, ``"About an hour"``, ``"3 days"``."""
    if seconds < 1:
        return "Less than a second"
    if round(seconds) == 1:
        return "1 second"
    if seconds < 60:
        return f"{int(seconds)} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(hours / 24 / 365)} years"


# Times

GO_ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time.Time, as encoding/json writes it


def rfc3339(seconds_since_epoch: float) -> str:
    """Go's ``time.RFC3339`` for a UTC instant, whole seconds: ``"2026-12-01T23:38:49Z"``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds_since_epoch))


def rfc3339_nano(ns_since_epoch: int | None = None) -> str:
    """Go's ``time.RFC3339Nano`` for a UTC instant (default: now)."""
    ns = time.time_ns() if ns_since_epoch is None else ns_since_epoch
    seconds, nanos = divmod(ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f".{nanos:09d}".rstrip("0") if nanos else ""
    return f"{stamp}{fraction}Z"


def parse_rfc3339_seconds(text: str) -> int:
    """Unix seconds of an RFC 3339 timestamp with any fraction length and offset; 0 if unparsable."""
    head, sep, tail = text.partition(".")
    if sep:
        digits = len(tail) - len(tail.lstrip("0123456789"))
        text = head + tail[digits:]
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0


# Byte sizes

_SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2, "mib": 1024**2,
               "g": 1000**3, "gb": 1000**3, "gib": 1024**3, "t": 1000**4, "tb": 1000**4, "tib": 1024**4}  # fmt: skip
_BINARY_AND_DECIMAL_BYTES = (
    (1 << 50, "Pi"), (1e15, "P"), (1 << 40, "Ti"), (1e12, "T"), (1 << 30, "Gi"), (1e9, "G"),
    (1 << 20, "Mi"), (1e6, "M"), (1 << 10, "Ki"), (1e3, "K"),
)  # fmt: skip
_COUNTS = ((1e15, "Q"), (1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K"))


def parse_size(text: str, what: str = "size") -> int:
    """``8GiB``, ``512MB``, ``1.5g`` or a plain number of bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    unit = match.group(2).lower() if match else ""
    if not match or unit not in _SIZE_UNITS:
        raise UserError(f"{what}: {text!r} is not a size (examples: 8GiB, 512MiB, 2GB)")
    return int(float(match.group(1)) * _SIZE_UNITS[unit])


def format_bytes(count: float) -> str:
    """Binary units with a space, for our own messages: ``"512 B"``, ``"1.5 GiB"``."""
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    exponent = 0
    while count >= 1024 and exponent < len(units) - 1:
        count /= 1024
        exponent += 1
    return f"{count:.0f} B" if exponent == 0 else f"{count:.1f} {units[exponent]}"


def gguf_size(num_bytes: int) -> str:
    """gguf-parser's ``GGUFBytesScalar`` without the space, as DMR stores it: ``"92.10MiB"``."""
    if num_bytes == 0:
        return "0B"
    return _scaled(num_bytes, _BINARY_AND_DECIMAL_BYTES) + "B"


def gguf_parameters(count: int) -> str:
    """gguf-parser's ``GGUFParametersScalar`` without the space: ``"134.52M"``."""
    if count == 0:
        return "0"
    return _scaled(count, _COUNTS)


def _scaled(value: int, units: tuple[tuple[float, str], ...]) -> str:
    base, unit = 1.0, ""
    for candidate_base, candidate_unit in units:
        if value >= candidate_base:
            base, unit = float(candidate_base), candidate_unit
            break
    return f"{value / base:.2f}".removesuffix(".00") + unit


def human_size(num_bytes: float) -> str:
    """go-units ``HumanSize`` (decimal units, 4 significant digits): ``"98.36MB"``."""
    units = ("B", "kB", "MB", "GB", "TB", "PB", "EB")
    index = 0
    while num_bytes >= 1000 and index < len(units) - 1:
        num_bytes /= 1000
        index += 1
    return f"{num_bytes:.4g}{units[index]}"
