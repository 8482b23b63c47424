"""Registry credentials the way the docker CLI finds them: ``$DOCKER_CONFIG/config.json``.

``credHelpers[<registry>]`` wins, then ``auths[<registry>]`` (``auth`` = base64 ``user:password``,
or ``identitytoken``), then the global ``credsStore``. Helpers are the ``docker-credential-<name>``
programs, asked with ``get`` and the server URL on stdin.
"""

import base64
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from compose_models.store.errors import RegistryError

DOCKER_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io")
_TOKEN_USERNAME = "<token>"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    @property
    def is_identity_token(self) -> bool:
        return self.username == _TOKEN_USERNAME


def docker_config_path() -> Path:
    directory = os.environ.get("DOCKER_CONFIG")
    return (Path(directory).expanduser() if directory else Path.home() / ".docker") / "config.json"


def registry_credentials(registry: str) -> Credentials | None:
    """Credentials for a registry host (``docker.io``, ``localhost:5000``), or None for anonymous access."""
    path = docker_config_path()
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError as error:
        raise RegistryError(f"{path} is not valid JSON ({error}); fix or remove it") from error
    keys = DOCKER_HUB_KEYS if registry == "docker.io" else (registry,)
    helper = _lookup(config.get("credHelpers") or {}, keys)
    if helper:
        return _from_helper(str(helper), _server_url(registry))
    entry = _lookup(config.get("auths") or {}, keys)
    if isinstance(entry, dict):
        credentials = _from_auth_entry(entry, path, registry)
        if credentials:
            return credentials
    if config.get("credsStore"):
        return _from_helper(str(config["credsStore"]), _server_url(registry))
    return None


def _lookup(table: dict[str, object], keys: tuple[str, ...]) -> object | None:
    wanted = {_bare_host(key) for key in keys}
    return next((value for key, value in table.items() if _bare_host(key) in wanted), None)


def _bare_host(key: str) -> str:
    return key.removeprefix("https://").removeprefix("http://").split("/", 1)[0]


def _server_url(registry: str) -> str:
    return DOCKER_HUB_KEYS[0] if registry == "docker.io" else registry


def _from_auth_entry(entry: dict[str, object], path: Path, registry: str) -> Credentials | None:
    if entry.get("identitytoken"):
        return Credentials(_TOKEN_USERNAME, str(entry["identitytoken"]))
    if entry.get("auth"):
        try:
            username, _, password = base64.b64decode(str(entry["auth"])).decode().partition(":")
        except ValueError as error:
            raise RegistryError(f"{path}: auths[{registry!r}].auth is not base64 of user:password") from error
        return Credentials(username, password)
    if entry.get("username"):
        return Credentials(str(entry["username"]), str(entry.get("password", "")))
    return None


def _from_helper(helper: str, server_url: str) -> Credentials | None:
    program = f"docker-credential-{helper}"
    try:
        result = subprocess.run([program, "get"], input=server_url, capture_output=True, text=True, timeout=30)
    except FileNotFoundError as error:
        raise RegistryError(f"credential helper {program} (named in {docker_config_path()}) is not installed") from error
    if result.returncode != 0:
        return None  # e.g. "credentials not found in native keychain": pull anonymously
    try:
        answer = json.loads(result.stdout)
    except ValueError as error:
        raise RegistryError(f"{program} get printed something that is not JSON: {result.stdout[:200]!r}") from error
    return Credentials(answer.get("Username", ""), answer.get("Secret", "")) if answer.get("Secret") else None
