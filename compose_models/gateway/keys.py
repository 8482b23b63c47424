"""API keys, each with a name: from a keys file (``name: key`` per line) or ``$COMPOSE_MODELS_API_KEYS``
(``name:key,name:key``), presented as ``Authorization: Bearer KEY`` or ``x-api-key: KEY``."""

import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from compose_models.errors import UserError


@dataclass(frozen=True)
class ApiKeys:
    names_by_key: dict[str, str]

    def __bool__(self) -> bool:
        return bool(self.names_by_key)

    def name_of(self, presented: str) -> str | None:
        """The name of a presented key; every key is compared in constant time so timing tells nothing."""
        found = None
        for key, name in self.names_by_key.items():
            if hmac.compare_digest(key.encode(), presented.encode()):
                found = name
        return found


def parse_keys(entries: Iterable[str], source: str) -> ApiKeys:
    names_by_key: dict[str, str] = {}
    for number, entry in enumerate(entries, 1):
        entry = entry.strip()
        if not entry or entry.startswith("#"):
            continue
        name, separator, key = entry.partition(":")
        name, key = name.strip(), key.strip()
        if not separator or not name or not key:
            raise UserError(f"{source}, entry {number}: expected `name: key`")
        if key in names_by_key:
            raise UserError(f"{source}, entry {number}: the key of {name!r} is also the key of {names_by_key[key]!r}")
        names_by_key[key] = name
    return ApiKeys(names_by_key)


def load_keys_file(path: Path) -> ApiKeys:
    try:
        text = path.read_text()
    except OSError as error:
        raise UserError(f"API keys file {path}: {error.strerror}") from None
    keys = parse_keys(text.splitlines(), str(path))
    if not keys:
        raise UserError(f"API keys file {path} holds no keys")
    return keys


def presented_key(headers: dict[str, str]) -> str | None:
    """The key a request carries, from ``Authorization: Bearer`` or ``x-api-key``."""
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return headers.get("x-api-key", "").strip() or None
