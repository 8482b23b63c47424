"""The key of this machine's own CLI: a runner with API keys writes one at start, readable only by its
user, so ``ps``, ``run``, ``unload`` and ``up`` keep working without the user handing them a key."""

import os
import secrets
from pathlib import Path

from compose_models.home import runner_dir

LOCAL_CALLER = "local-cli"


def _path() -> Path:
    return runner_dir() / "local-api-key"


def create_local_key() -> str:
    key = secrets.token_urlsafe(32)
    path = _path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(key)
    return key


def local_auth_headers() -> dict[str, str]:
    """``Authorization`` for calls from this machine's CLI to its runner; none when the runner has no keys."""
    try:
        return {"Authorization": f"Bearer {_path().read_text().strip()}"}
    except OSError:
        return {}
