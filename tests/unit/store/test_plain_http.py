"""Which registries are spoken to in plain HTTP without the user asking: those on this machine's loopback only."""

import pytest

from compose_models.store.registry_client import is_loopback_registry, uses_plain_http


@pytest.mark.parametrize("registry", ["localhost:5000", "localhost", "127.0.0.1:5000", "127.1.2.3", "[::1]:5000"])
def test_loopback_registries_are_plain_http(registry: str) -> None:
    assert is_loopback_registry(registry) and uses_plain_http(registry, insecure=False)


@pytest.mark.parametrize("registry", ["registry.local:5000", "printer.local", "192.168.1.10:5000", "172.17.0.1:5000",
                                      "docker.io", "localhost.example.com", "127.0.0.1.nip.io"])  # fmt: skip
def test_other_registries_are_https_unless_the_user_asks(registry: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INSECURE_REGISTRY", raising=False)
    assert not uses_plain_http(registry, insecure=False)
    assert uses_plain_http(registry, insecure=True)
    monkeypatch.setenv("INSECURE_REGISTRY", "true")
    assert uses_plain_http(registry, insecure=False)
