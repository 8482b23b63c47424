"""Ollama's model parameters (``PARAMETER`` lines, ``parameters`` of ``/api/create``): their names and
types, checked; and written back as ``/api/show`` and ``ollama show --parameters`` print them.

``num_ctx`` becomes the artifact's context size (so every API gets it); the others are stored with
the model and are the defaults of its Ollama requests' ``options``.
"""

import math
from typing import Any

from compose_models.runner.http.errors import ApiError

_INTEGER, _NUMBER, _BOOLEAN, _STRINGS = "an integer", "a number", "true or false", "a string or a list of strings"
TYPES = {
    "num_ctx": _INTEGER, "num_batch": _INTEGER, "num_gpu": _INTEGER, "main_gpu": _INTEGER, "num_thread": _INTEGER,
    "num_keep": _INTEGER, "seed": _INTEGER, "num_predict": _INTEGER, "top_k": _INTEGER, "repeat_last_n": _INTEGER,
    "mirostat": _INTEGER, "top_p": _NUMBER, "min_p": _NUMBER, "typical_p": _NUMBER, "temperature": _NUMBER,
    "repeat_penalty": _NUMBER, "presence_penalty": _NUMBER, "frequency_penalty": _NUMBER, "mirostat_tau": _NUMBER,
    "mirostat_eta": _NUMBER, "tfs_z": _NUMBER, "numa": _BOOLEAN, "low_vram": _BOOLEAN, "vocab_only": _BOOLEAN,
    "use_mmap": _BOOLEAN, "use_mlock": _BOOLEAN, "penalize_newline": _BOOLEAN, "stop": _STRINGS,
}  # fmt: skip


def checked_parameters(given: dict[str, Any], where: str) -> dict[str, Any]:
    """``given`` with each value of its parameter's type (Modelfile text converted), sorted by name;
    a 400 naming ``where`` and the parameter for an unknown name or a value of the wrong type."""
    checked = {}
    for name, value in given.items():
        expected = TYPES.get(name)
        if expected is None:
            raise ApiError(400, f"{where}: unknown parameter {name!r}: expected one of {', '.join(sorted(TYPES))}")
        converted = _converted(value, expected)
        if converted is None:
            raise ApiError(400, f"{where}: parameter {name!r} must be {expected}, got {value!r}")
        checked[name] = converted
    return dict(sorted(checked.items()))


def _converted(value: Any, expected: str) -> Any:
    if expected == _STRINGS:
        values = [value] if isinstance(value, str) else value
        return list(values) if isinstance(values, list) and all(isinstance(v, str) for v in values) else None
    if isinstance(value, str):
        value = _parsed_text(value.strip(), expected)
    if expected == _BOOLEAN:
        return value if isinstance(value, bool) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if expected == _INTEGER:
        return int(value) if float(value).is_integer() else None
    return float(value) if math.isfinite(value) else None


def _parsed_text(text: str, expected: str) -> Any:
    if expected == _BOOLEAN:
        return {"true": True, "false": False}.get(text.lower())
    try:
        return int(text) if expected == _INTEGER else float(text)
    except ValueError:
        return None


def parameters_text(parameters: dict[str, Any]) -> str:
    """One ``name value`` line per value, stop strings quoted, as Ollama shows them."""
    lines = []
    for name, value in parameters.items():
        for item in value if isinstance(value, list) else [value]:
            shown = f'"{item}"' if isinstance(item, str) else str(item).lower() if isinstance(item, bool) else item
            lines.append(f"{name:<30} {shown}")
    return "\n".join(lines)
