"""Listening beyond loopback and the Docker bridge needs API keys."""

import pytest

from compose_models.errors import UserError
from compose_models.runner.control.listening import listen_addresses


def test_all_addresses_are_refused_without_keys_and_allowed_with_them() -> None:
    with pytest.raises(UserError, match="without API keys: pass --api-keys FILE"):
        listen_addresses(["0.0.0.0"])
    assert listen_addresses(["0.0.0.0"], with_api_keys=True) == ["0.0.0.0"]
    assert listen_addresses(["127.0.0.1"]) == ["127.0.0.1"]
