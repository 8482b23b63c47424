"""A container gets an answer from the host runner on every kind of engine: three stand-ins for a Mac VM
engine (colima, Rancher Desktop, Podman; see vm_engine.py) and this host's own Linux engine.

The harness checks come first: they prove each stand-in behaves like its engine without the runner.
"""

import json
import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import docker_available, free_port, require, run_cli
from tests.e2e.stack import assistant_answer
from tests.integration.gateway.conftest import request_log
from tests.management_refusals import CHAT, MANAGEMENT, Request, assert_refused, container_requests
from tests.vmengine.vm_engine import COLIMA, HOST_ENGINE, IMAGE, PODMAN, RANCHER, VM_BRIDGE, VM_SCENARIOS, VmEngine

pytestmark = [pytest.mark.vmengine, pytest.mark.docker]

HELLO = Path(__file__).with_name("hello.compose.yaml")  # examples/compose/hello, failing on an HTTP error


@pytest.fixture
def loopback_server() -> Iterator[tuple[int, str]]:
    """A plain HTTP server on this host's 127.0.0.1 that answers a nonce. Yields its port and the nonce."""
    nonce = uuid.uuid4().hex

    class Nonce(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(nonce)))
            self.end_headers()
            self.wfile.write(nonce.encode())

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Nonce)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], nonce
    server.shutdown()
    server.server_close()


def in_container(
    docker_host: str, *command: str, add_host: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    """Run ``command`` in a throwaway busybox container on a network of its own, as Compose would."""
    docker = ["docker", "-H", docker_host]
    network = f"vm-check-{uuid.uuid4().hex[:8]}"
    subprocess.run([*docker, "network", "create", network], check=True, capture_output=True)
    try:
        extra = ["--add-host", add_host] if add_host else []
        run = [*docker, "run", "--rm", "--network", network, *extra, IMAGE, *command]
        return subprocess.run(run, capture_output=True, text=True, timeout=timeout)
    finally:
        subprocess.run([*docker, "network", "rm", network], capture_output=True)


@pytest.mark.parametrize("scenario", VM_SCENARIOS, ids=lambda scenario: scenario.name)
def test_harness_the_engines_host_names_reach_this_hosts_loopback(vm_engine: VmEngine, scenario, loopback_server):
    port, nonce = loopback_server
    docker_host = vm_engine.use(scenario, forward_port=port)
    for name in scenario.host_names:
        fetched = in_container(docker_host, "wget", "-qO-", f"http://{name}:{port}/")
        assert fetched.stdout == nonce, f"{name}: {fetched.stderr}"


def test_harness_this_hosts_loopback_is_out_of_reach_without_the_forwarding(vm_engine: VmEngine, loopback_server):
    port, nonce = loopback_server
    docker_host = vm_engine.use(COLIMA, forward_port=None)
    fetched = in_container(docker_host, "wget", "-qO-", f"http://host.docker.internal:{port}/")
    assert fetched.returncode != 0 and nonce not in fetched.stdout, fetched.stdout + fetched.stderr


def test_harness_colima_like_host_gateway_reaches_this_host(vm_engine: VmEngine, loopback_server) -> None:
    port, nonce = loopback_server
    docker_host = vm_engine.use(COLIMA, forward_port=port)
    fetched = in_container(docker_host, "wget", "-qO-", f"http://gateway:{port}/", add_host="gateway:host-gateway")
    assert fetched.stdout == nonce, fetched.stderr


def test_harness_rancher_like_host_gateway_is_the_vms_own_bridge(vm_engine: VmEngine, loopback_server) -> None:
    port, nonce = loopback_server
    docker_host = vm_engine.use(RANCHER, forward_port=port)
    hosts = in_container(docker_host, "cat", "/etc/hosts", add_host="gateway:host-gateway").stdout
    assert f"{VM_BRIDGE.split('/')[0]}\tgateway" in hosts, hosts
    fetched = in_container(docker_host, "wget", "-qO-", f"http://gateway:{port}/", add_host="gateway:host-gateway")
    assert fetched.returncode != 0 and nonce not in fetched.stdout, fetched.stdout + fetched.stderr


def test_harness_podman_like_rejects_host_gateway_at_container_creation(vm_engine: VmEngine) -> None:
    docker_host = vm_engine.use(PODMAN)
    created = in_container(docker_host, "true", add_host="gateway:host-gateway")
    assert created.returncode == 125, created.stderr
    assert "host containers internal IP address is empty" in created.stderr, created.stderr


def local_addresses() -> set[str]:
    """Every address of an interface of this machine (in this network namespace)."""
    interfaces = json.loads(subprocess.run(["ip", "-j", "addr"], check=True, capture_output=True, text=True).stdout)
    return {address["local"] for interface in interfaces for address in interface.get("addr_info", [])}


@pytest.mark.model
@pytest.mark.parametrize(
    "scenario", [*VM_SCENARIOS, None], ids=lambda scenario: scenario.name if scenario else "plain-linux"
)
def test_a_container_gets_an_answer_and_the_runner_listens_only_on_this_machine(
    scenario, request: pytest.FixtureRequest, packaged_smollm2: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    require(sys.platform == "linux", "Linux: the engines here are this host's own and network namespaces")
    require(docker_available(), "a running Docker engine")
    port = free_port()
    # The plain-Linux scenario is this host's own engine: no host names at all, containers reach its bridge address.
    docker_host = request.getfixturevalue("vm_engine").use(scenario, forward_port=port) if scenario else HOST_ENGINE
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    monkeypatch.setenv("COMPOSE_MODELS_PORT", str(port))
    project = f"vm-{uuid.uuid4().hex[:8]}"
    state_file = Path(os.environ["COMPOSE_MODELS_HOME"]) / "runner/state.json"
    try:
        up = run_cli("up", "-f", str(HELLO), "-p", project, "--", "--exit-code-from", "hello", check=False)
        hosts = json.loads(state_file.read_text())["hosts"] if state_file.exists() else None
        doctor = run_cli("doctor", "--json", check=False)
    finally:
        run_cli("down", "-f", str(HELLO), "-p", project, "--", "--timeout", "0", check=False)
        run_cli("stop", check=False)
    output = up.stdout + up.stderr
    assert up.returncode == 0, output
    assistant_answer(output)
    assert hosts is not None and "127.0.0.1" in hosts, hosts
    assert set(hosts) <= local_addresses(), f"the runner listens beyond this machine's interfaces: {hosts}"
    # The doctor finds the same route the container was handed.
    route = next(check for check in json.loads(doctor.stdout)["checks"] if check["check"] == "container route")
    handed = re.search(r"at (http://\S+/engines/v1/)", output)
    assert route["status"] == "ok" and handed and handed.group(1) in route["found"], (route, output)


@pytest.mark.model
def test_a_container_whose_requests_arrive_on_loopback_infers_but_may_not_manage(
    vm_engine: VmEngine, packaged_smollm2: str, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Mac engine delivers a container's request to the host's 127.0.0.1: the runner sees loopback, and still
    refuses it management, which only this machine's CLI (with the runner's local key) is open to."""
    port = free_port()
    docker_host = vm_engine.use(COLIMA, forward_port=port)
    monkeypatch.setenv("COMPOSE_MODELS_PORT", str(port))
    run_cli("serve", "--detach")
    try:
        requests: list[Request] = [
            ("POST", "/engines/v1/chat/completions", CHAT), ("GET", "/ui/activity", None),
            *[(m, p, b) for m, p, b, _ in MANAGEMENT],
        ]  # fmt: skip
        sent = container_requests("host.docker.internal", port, requests)
        result = in_container(docker_host, "sh", "-c", sent.script, timeout=300)
        [(status, body), (_, activity), *refusals] = sent.answers(result.stdout)
        assert len(refusals) == len(MANAGEMENT), result.stdout + result.stderr
        assert status == 200 and json.loads(body)["object"] == "chat.completion", body
        assert json.loads(activity)["recent"] == []  # nobody's prompts, not even those of "this machine"
        for (status, body), (method, path, _, shape) in zip(refusals, MANAGEMENT):
            assert_refused(status, body, shape, (method, path), isolated_home / "runner" / "local-api-key")
        [entry] = request_log(isolated_home, 1)
        assert entry["address"] == "127.0.0.1" and entry["caller"] == "local"  # it did look like this machine
        run_cli("configure", "--context-size", "1024", packaged_smollm2)  # while the CLI still manages
    finally:
        run_cli("stop", check=False)
