"""The runner's key for this machine's CLI: written at every start, keys or not; what the open-management
option reads."""

import stat
from pathlib import Path

import pytest

from compose_models.gateway.settings import GatewaySettings
from compose_models.runner.control.local_key import local_auth_headers


@pytest.fixture
def no_gateway_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPOSE_MODELS_HOME", str(tmp_path))
    for variable in ("COMPOSE_MODELS_API_KEYS", "COMPOSE_MODELS_API_KEYS_FILE", "COMPOSE_MODELS_OPEN_MANAGEMENT"):
        monkeypatch.delenv(variable, raising=False)


def test_a_runner_without_keys_writes_a_fresh_key_for_the_cli_at_each_start(tmp_path: Path, no_gateway_settings) -> None:
    first = GatewaySettings.for_runner(tmp_path / "logs")
    path = tmp_path / "runner" / "local-api-key"
    assert first.local_key and not first.keys and not first.open_management
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert local_auth_headers() == {"Authorization": f"Bearer {first.local_key}"}
    second = GatewaySettings.for_runner(tmp_path / "logs")
    assert second.local_key != first.local_key and path.read_text() == second.local_key


@pytest.mark.parametrize(("value", "opened"), [("1", True), ("true", True), ("0", False), ("", False)])
def test_open_management_comes_from_the_environment(
    tmp_path: Path, no_gateway_settings, monkeypatch: pytest.MonkeyPatch, value: str, opened: bool
) -> None:
    monkeypatch.setenv("COMPOSE_MODELS_OPEN_MANAGEMENT", value)
    assert GatewaySettings.for_runner(tmp_path / "logs").open_management is opened
