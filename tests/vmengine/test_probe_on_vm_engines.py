"""The reach probe where nothing reaches the runner on the Podman-like stand-in (see vm_engine.py): each
candidate's failure is named, the host-gateway one as the engine refusing the container, not as a
timeout or a traceback."""

import re

import pytest

from tests.conftest import free_port, run_cli
from tests.vmengine.vm_engine import PODMAN, VmEngine

pytestmark = [pytest.mark.vmengine, pytest.mark.docker]


def test_podman_refusing_host_gateway_is_reported_as_such(vm_engine: VmEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    monkeypatch.setenv("DOCKER_HOST", vm_engine.use(PODMAN, forward_port=None))  # no forwarding: nothing reaches the runner
    monkeypatch.setenv("COMPOSE_MODELS_PORT", str(port))
    try:
        run_cli("serve", "--detach")
        result = run_cli("status", "--json", check=False)
    finally:
        run_cli("stop", check=False)
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    assert f"reaches the runner on port {port}" in result.stderr, result.stderr
    for name in PODMAN.host_names:  # they resolve to the host's address, where nothing forwards the port
        assert re.search(rf"- {re.escape(name)}: refused", result.stderr), result.stderr
    assert re.search(
        r"- host\.docker\.internal \(extra_hosts host-gateway\): rejected by the engine \(.*host containers internal IP "
        r"address is empty", result.stderr
    ), result.stderr
