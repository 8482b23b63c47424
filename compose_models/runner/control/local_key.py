"""The key of this machine's own CLI: the runner writes a fresh one at every start, readable only by its
user, and management (pull, delete, configure, ...) needs it, or an admin key. A request from 127.0.0.1
proves nothing: every Mac engine delivers containers' requests to the host's loopback. So ``ps``, ``run``,
``unload``, ``configure`` and ``up`` send it, and nothing else on this machine can."""

import hmac
import os
import secrets
from pathlib import Path

from compose_models.home import runner_dir

LOCAL_CALLER = "local-cli"


def local_key_path() -> Path:
    return runner_dir() / "local-api-key"


def create_local_key() -> str:
    key = secrets.token_urlsafe(32)
    path = local_key_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(key)
    return key


def is_local_key(presented: str | None, local_key: str | None) -> bool:
    """Whether ``presented`` is this runner's local key, compared in constant time."""
    if not presented or not local_key:
        return False
    return hmac.compare_digest(presented.encode(), local_key.encode())


def local_auth_headers() -> dict[str, str]:
    """``Authorization`` for calls from this machine's CLI to its runner; none when no runner has written a key."""
    try:
        return {"Authorization": f"Bearer {local_key_path().read_text().strip()}"}
    except OSError:
        return {}
