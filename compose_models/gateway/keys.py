"""API keys, each with a name: from a keys file (``name: key`` per line) or ``$COMPOSE_MODELS_API_KEYS``
(``name:key,name:key``), presented as ``Authorization: Bearer KEY`` or ``x-api-key: KEY``.

A key is for inference; ``name: key admin`` also allows management (pulls, pushes, tags, deletes,
configure, unload, and every caller's requests)."""

import hmac
import stat
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from compose_models.errors import UserError

ADMIN_SCOPE = "admin"


@dataclass(frozen=True)
class ApiKeys:
    names_by_key: dict[str, str]
    admin_keys: frozenset[str] = field(default_factory=frozenset, repr=False)

    def __bool__(self) -> bool:
        return bool(self.names_by_key)

    def is_admin(self, key: str) -> bool:
        """Whether a key (already found by ``name_of``) also allows management."""
        return key in self.admin_keys

    def with_keys(self, other: "ApiKeys") -> "ApiKeys":
        return ApiKeys({**self.names_by_key, **other.names_by_key}, self.admin_keys | other.admin_keys)

    def name_of(self, presented: str) -> str | None:
        """The name of a presented key; every key is compared in constant time so timing tells nothing."""
        found = None
        for key, name in self.names_by_key.items():
            if hmac.compare_digest(key.encode(), presented.encode()):
                found = name
        return found


def parse_keys(entries: Iterable[str], source: str) -> ApiKeys:
    names_by_key: dict[str, str] = {}
    admin_keys: set[str] = set()
    for number, entry in enumerate(entries, 1):
        entry = entry.strip()
        if not entry or entry.startswith("#"):
            continue
        name, separator, rest = entry.partition(":")
        name, (key, *scopes) = name.strip(), rest.split() or [""]
        if not separator or not name or not key or scopes not in ([], [ADMIN_SCOPE]):
            raise UserError(f"{source}, entry {number}: expected `name: key` or `name: key {ADMIN_SCOPE}`")
        if key in names_by_key:
            raise UserError(f"{source}, entry {number}: the key of {name!r} is also the key of {names_by_key[key]!r}")
        names_by_key[key] = name
        if scopes:
            admin_keys.add(key)
    return ApiKeys(names_by_key, frozenset(admin_keys))


def load_keys_file(path: Path) -> ApiKeys:
    try:
        text = path.read_text()
        mode = path.stat().st_mode
    except OSError as error:
        raise UserError(f"API keys file {path}: {error.strerror}") from None
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        print(f"warning: API keys file {path} is readable by other users; `chmod 600 {path}`", file=sys.stderr)
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
