"""API keys, each with a name: from a keys file (``name: key`` per line) or ``$COMPOSE_MODELS_API_KEYS``
(``name:key,name:key``), presented as ``Authorization: Bearer KEY`` or ``x-api-key: KEY``.

A key is for inference; ``name: key admin`` also allows management (pulls, pushes, tags, deletes,
configure, unload, and every caller's requests). After the key, options limit it:
``models=GLOB,GLOB`` (fnmatch patterns of the model names it may use), ``tokens-per-day=N`` and
``tokens-per-month=N`` (prompt and completion tokens together, per UTC day and month)."""

import fnmatch
import hmac
import stat
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from compose_models.errors import UserError

ADMIN_SCOPE = "admin"
MODELS_OPTION = "models"
DAY_OPTION = "tokens-per-day"
MONTH_OPTION = "tokens-per-month"
MAX_PATTERNS = 64


@dataclass(frozen=True)
class KeyRules:
    """What one key may use: models matching one of ``models`` (None: any), and tokens per UTC day and month."""

    models: tuple[str, ...] | None = None
    tokens_per_day: int | None = None
    tokens_per_month: int | None = None

    def allows(self, names: Iterable[str]) -> bool:
        """Whether any of a model's names (the one sent, and those it resolved to) matches a pattern."""
        if self.models is None:
            return True
        return any(fnmatch.fnmatchcase(name, pattern) for name in names for pattern in self.models)


NO_RULES = KeyRules()


@dataclass(frozen=True)
class ApiKeys:
    names_by_key: dict[str, str]
    admin_keys: frozenset[str] = field(default_factory=frozenset, repr=False)
    rules_by_name: dict[str, KeyRules] = field(default_factory=dict)

    def rules_of(self, name: str | None) -> KeyRules:
        return self.rules_by_name.get(name, NO_RULES) if name is not None else NO_RULES

    def __bool__(self) -> bool:
        return bool(self.names_by_key)

    def is_admin(self, key: str) -> bool:
        """Whether a key (already found by ``name_of``) also allows management."""
        return key in self.admin_keys

    def with_keys(self, other: "ApiKeys") -> "ApiKeys":
        return ApiKeys(
            {**self.names_by_key, **other.names_by_key}, self.admin_keys | other.admin_keys,
            {**self.rules_by_name, **other.rules_by_name},
        )  # fmt: skip

    def name_of(self, presented: str) -> str | None:
        """The name of a presented key; every key is compared in constant time so timing tells nothing."""
        found = None
        for key, name in self.names_by_key.items():
            if hmac.compare_digest(key.encode(), presented.encode()):
                found = name
        return found


_EXPECTED = (
    f"expected `name: key [{ADMIN_SCOPE}] [{MODELS_OPTION}=GLOB,GLOB] [{DAY_OPTION}=N] [{MONTH_OPTION}=N]`"
)


def parse_keys(entries: Iterable[str], source: str) -> ApiKeys:
    names_by_key: dict[str, str] = {}
    admin_keys: set[str] = set()
    rules_by_name: dict[str, KeyRules] = {}
    for number, entry in enumerate(entries, 1):
        entry = entry.strip()
        if not entry or entry.startswith("#"):
            continue
        where = f"{source}, entry {number}"
        name, separator, rest = entry.partition(":")
        name, (key, *words) = name.strip(), rest.split() or [""]
        if not separator or not name or not key or key.startswith((f"{MODELS_OPTION}=", "tokens-")):
            raise UserError(f"{where}: {_EXPECTED}")
        if key in names_by_key:
            raise UserError(f"{where}: the key of {name!r} is also the key of {names_by_key[key]!r}")
        names_by_key[key] = name
        if ADMIN_SCOPE in words:
            admin_keys.add(key)
        rules = _rules([word for word in words if word != ADMIN_SCOPE], where)
        # Two keys may share a name (an old and a new one while rotating): they share its usage and limits.
        if rules_by_name.setdefault(name, rules) != rules:
            raise UserError(f"{where}: {name!r} has other limits on another line; usage and limits are kept by name")
    return ApiKeys(names_by_key, frozenset(admin_keys), {name: rules for name, rules in rules_by_name.items() if rules != NO_RULES})


def _rules(options: list[str], where: str) -> KeyRules:
    found: dict[str, str] = {}
    for option in options:
        option_name, equals, value = option.partition("=")
        if not equals or option_name not in (MODELS_OPTION, DAY_OPTION, MONTH_OPTION) or not value:
            raise UserError(f"{where}: {option!r} is not an option; {_EXPECTED}")
        if option_name in found:
            raise UserError(f"{where}: {option_name} is given twice")
        found[option_name] = value
    models = None
    if MODELS_OPTION in found:
        models = tuple(pattern for pattern in found[MODELS_OPTION].split(",") if pattern)
        if not models or len(models) > MAX_PATTERNS:
            raise UserError(f"{where}: {MODELS_OPTION}= expects 1 to {MAX_PATTERNS} comma-separated names or globs")
    return KeyRules(models, _count(found.get(DAY_OPTION), DAY_OPTION, where), _count(found.get(MONTH_OPTION), MONTH_OPTION, where))


def _count(text: str | None, option: str, where: str) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or int(text) < 1:
        raise UserError(f"{where}: {option}= expects a positive whole number of tokens, got {text!r}")
    return int(text)


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


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key a request carries, from ``Authorization: Bearer`` or ``x-api-key``."""
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return headers.get("x-api-key", "").strip() or None
