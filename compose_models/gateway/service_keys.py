"""Per-service keys: how the runner tells callers apart where their source address cannot.

On a VM engine (every Mac engine) each container's request arrives from the VM's address, so when keys
or limits are on, ``compose-models up`` gives each bound service a key of its own along with the URL.
A key names its caller, ``PROJECT/SERVICE``, and carries an HMAC of that name under a secret kept beside
the runner, readable only by its user: the runner checks a key without a list of issued ones, and keys
stay valid across runner restarts. The secret exists exactly while the runner has keys or limits on,
which is also how ``up`` knows to issue keys.
"""

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from compose_models.home import runner_dir

PREFIX = "cm-svc"


@dataclass(frozen=True)
class ServiceCaller:
    project: str
    service: str

    @property
    def name(self) -> str:
        return f"{self.project}/{self.service}"


@dataclass(frozen=True)
class ServiceKeys:
    secret: bytes = field(repr=False)  # never into a log or a traceback

    def issue(self, project: str, service: str) -> str:
        name = ServiceCaller(project, service).name.encode()
        return f"{PREFIX}.{_encode(name)}.{self._tag(name)}"

    def caller_of(self, presented: str) -> ServiceCaller | None:
        """The service a presented key was issued to; None for anything else."""
        prefix, _, rest = presented.partition(".")
        encoded, _, tag = rest.partition(".")
        if prefix != PREFIX or not encoded or not tag:
            return None
        try:
            name = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except ValueError:
            return None
        if not hmac.compare_digest(self._tag(name).encode(), tag.encode()):
            return None
        project, _, service = name.decode("utf-8", errors="replace").partition("/")
        return ServiceCaller(project, service)

    def _tag(self, name: bytes) -> str:
        return _encode(hmac.new(self.secret, name, hashlib.sha256).digest())


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _path() -> Path:
    return runner_dir() / "service-key-secret"


def enable_service_keys() -> ServiceKeys:
    """The runner's at start, with keys or limits on: the existing secret, so issued keys keep working."""
    path = _path()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return ServiceKeys(path.read_bytes())
    secret = secrets.token_bytes(32)
    with os.fdopen(descriptor, "wb") as file:
        file.write(secret)
    return ServiceKeys(secret)


def disable_service_keys() -> None:
    """The runner's at start without keys or limits: ``up`` then issues none."""
    _path().unlink(missing_ok=True)


def issued_service_keys() -> ServiceKeys | None:
    """For ``up``: the running runner's service keys, or None when it has no keys or limits."""
    try:
        return ServiceKeys(_path().read_bytes())
    except OSError:
        return None
