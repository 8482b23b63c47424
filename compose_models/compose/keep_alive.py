"""``x-keep-alive`` under ``models.<key>``: how long the model stays loaded once idle (after its project is down).

A Go duration (``30s``, ``5m``, ``1h30m``), seconds as a number, ``0`` (unload as soon as it is idle) or a
negative value (never unload), as Docker Model Runner's and Ollama's ``keep_alive``.
"""

from pathlib import Path

from compose_models.errors import UserError
from compose_models.units import parse_duration

X_KEEP_ALIVE = "x-keep-alive"


def checked_keep_alive(value: object, compose_file: Path, key: str) -> str | None:
    """The value as the runner takes it (a string), or None when it is absent; UserError naming file and key."""
    if value is None:
        return None
    try:
        parse_duration(value)
    except ValueError:
        raise UserError(
            f"{compose_file}: models.{key}.{X_KEEP_ALIVE}: expected a duration such as 30s, 5m or 1h "
            f"(0 = unload when idle, -1 = never), got {value!r}"
        ) from None
    return str(value)
