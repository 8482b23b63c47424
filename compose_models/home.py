"""Where compose-models keeps its state: ``$COMPOSE_MODELS_HOME`` (default ``~/.compose-models``)."""

import os
from pathlib import Path


def home_dir() -> Path:
    configured = os.environ.get("COMPOSE_MODELS_HOME")
    return Path(configured).expanduser() if configured else Path.home() / ".compose-models"


def store_dir() -> Path:
    """The model store, in Docker Model Runner's layout."""
    return home_dir() / "models"


def runner_dir() -> Path:
    """Runner state beside the store: pid/port file, logs."""
    return home_dir() / "runner"


def responses_dir() -> Path:
    """Stored OpenAI Responses (``store``), in the runner's folder: they hold prompts and answers."""
    return runner_dir() / "responses"


def private_state_dirs() -> Path:
    """The state folder, the runner's folder and its logs, created or made readable by this user only
    (0700): they hold keys, prompts and answers. Returns the logs folder."""
    logs = runner_dir() / "logs"
    for folder in (home_dir(), runner_dir(), logs):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.chmod(0o700)
    return logs
