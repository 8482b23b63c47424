"""JSON bytes exactly as Go's encoding/json writes them, so digests match Docker Model Runner's.

Go escapes ``<``, ``>``, ``&``, U+2028 and U+2029 inside strings, writes other non-ASCII as is, and
keeps struct field order (callers pass dicts already in Go's field order; Go maps are sorted by key).
Times are RFC 3339 with nanoseconds and trailing zeros trimmed.
"""

import json
import time
from datetime import datetime, timezone
from typing import Any

_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_ESCAPE_TABLE = str.maketrans(_GO_ESCAPES)


def go_marshal(value: Any) -> bytes:
    """``json.Marshal``: compact."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.translate(_ESCAPE_TABLE).encode()


def go_marshal_indent(value: Any, indent: int) -> bytes:
    """``json.MarshalIndent(value, "", <indent spaces>)``."""
    text = json.dumps(value, ensure_ascii=False, indent=indent, allow_nan=False)
    return text.translate(_ESCAPE_TABLE).encode()


def sorted_map(mapping: dict[str, Any]) -> dict[str, Any]:
    """A Go ``map[string]…`` as encoding/json orders it: keys sorted bytewise."""
    return {key: mapping[key] for key in sorted(mapping, key=lambda k: k.encode())}


def rfc3339_nano(ns_since_epoch: int | None = None) -> str:
    """Go's ``time.RFC3339Nano`` for a UTC instant (default: now)."""
    ns = time.time_ns() if ns_since_epoch is None else ns_since_epoch
    seconds, nanos = divmod(ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
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
