"""The per-machine cache for built backends, outside every store and repository."""

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$COMPOSE_MODELS_CACHE``, else ``$XDG_CACHE_HOME/compose-models``, else ``~/.cache/compose-models``."""
    configured = os.environ.get("COMPOSE_MODELS_CACHE")
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "compose-models"
