"""JSON bytes exactly as Go's encoding/json writes them, so digests match Docker Model Runner's.

Go escapes ``<``, ``>``, ``&``, U+2028 and U+2029 inside strings, writes other non-ASCII as is, and
keeps struct field order (callers pass dicts already in Go's field order; Go maps are sorted by key).
Go's times are written by ``compose_models.units``.
"""

import json
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

