"""The API keys a template's stack needs, made at ``init``: random, never a key every copy of the template shares.

A template lists them in its ``template.yaml``::

    api_keys:
      - {name: app, variable: APP_API_KEY}   # a caller; compose.yaml reads its key from .env as ${APP_API_KEY}
      - {name: admin, admin: true}

``init`` writes ``api-keys`` (the gateway's keys file, ``name: key [admin]`` per line), ``.env`` (each
``variable=key``, which Compose reads) and a ``.gitignore`` naming both, and shows the keys once.
"""

import secrets
from dataclasses import dataclass
from pathlib import Path, PurePath

from compose_models.errors import UserError

KEYS_FILE = PurePath("api-keys")
DOTENV_FILE = PurePath(".env")
GITIGNORE_FILE = PurePath(".gitignore")


@dataclass(frozen=True)
class KeySpec:
    name: str
    admin: bool = False
    variable: str | None = None


@dataclass(frozen=True)
class MadeKeys:
    keys: dict[str, str]  # caller name -> key
    files: dict[PurePath, tuple[str, int]]  # path in the stack -> (text, mode)


def key_specs(description: dict, source: Path) -> list[KeySpec]:
    """The ``api_keys`` of a template's description; a malformed entry is named (the template is this package's)."""
    specs = []
    for entry in description.get("api_keys") or []:
        if not isinstance(entry, dict) or not str(entry.get("name") or "").isidentifier():
            raise UserError(f"{source}: api_keys: each entry needs a name, e.g. {{name: app}}; got {entry!r}")
        variable = entry.get("variable")
        if variable is not None and not str(variable).isidentifier():
            raise UserError(f"{source}: api_keys: {entry['name']}: variable {variable!r} is not a variable name")
        specs.append(KeySpec(str(entry["name"]), bool(entry.get("admin", False)), variable))
    return specs


def new_key() -> str:
    return f"sk-{secrets.token_urlsafe(32)}"  # 256 random bits; URL-safe, so no quoting in .env or the keys file


def make_keys(specs: list[KeySpec]) -> MadeKeys:
    if not specs:
        return MadeKeys({}, {})
    keys = {spec.name: new_key() for spec in specs}
    keys_file = (
        "# name: key [admin], written by `compose-models init` with random keys. The name is the caller in the\n"
        "# gateway's request log, metrics and limits; an `admin` key may also manage models and see every caller's\n"
        "# requests. Keep this file out of the repository. The gateway (user 10001) must be able to read it.\n"
        + "".join(f"{spec.name}: {keys[spec.name]}{' admin' if spec.admin else ''}\n" for spec in specs)
    )
    files: dict[PurePath, tuple[str, int]] = {KEYS_FILE: (keys_file, 0o644)}
    variables = [spec for spec in specs if spec.variable]
    if variables:
        dotenv = "# Written by `compose-models init`: the API keys compose.yaml reads. Keep this file out of the repository.\n"
        files[DOTENV_FILE] = (dotenv + "".join(f"{spec.variable}={keys[spec.name]}\n" for spec in variables), 0o600)
    ignored = "".join(f"/{path}\n" for path in files)
    files[GITIGNORE_FILE] = (f"# The stack's keys, written by `compose-models init`\n{ignored}", 0o644)
    return MadeKeys(keys, files)
