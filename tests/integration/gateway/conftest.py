"""A runner behind the gateway: API keys for two callers, limits and the request log in the test's home."""

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

KEYS = {"alice": "sk-alice-0123456789", "bob": "sk-bob-9876543210"}  # inference keys
ADMIN_KEY = "sk-root-5555555555"  # root's, which may also manage models and see every caller's requests
REQUESTS_PER_MINUTE = 10


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[name]}"}


def request_log(home: Path, expected: int, server: str = "runner") -> list[dict]:
    """The request log of the runner (or the ``gateway``) once it has ``expected`` lines: a line is written
    just after its answer is sent."""
    path = home / server / "logs" / "requests.jsonl"
    deadline = time.monotonic() + 10
    while True:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= expected or time.monotonic() > deadline:
            return [json.loads(line) for line in lines]
        time.sleep(0.05)


def write_keys_file(path: Path) -> Path:
    """The keys of alice, bob (inference) and root (admin), readable by the user only."""
    path.write_text("".join(f"{name}: {key}\n" for name, key in KEYS.items()) + f"root: {ADMIN_KEY} admin\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def gateway_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys_file = write_keys_file(tmp_path / "api-keys")
    monkeypatch.setenv("COMPOSE_MODELS_API_KEYS_FILE", str(keys_file))
    monkeypatch.setenv("COMPOSE_MODELS_REQUESTS_PER_MINUTE", str(REQUESTS_PER_MINUTE))


@pytest.fixture
def guarded_runner(gateway_settings: None, runner: str) -> Iterator[str]:
    """The ``runner`` fixture's runner, started with the gateway settings above in its environment."""
    yield runner
