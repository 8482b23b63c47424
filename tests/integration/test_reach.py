"""The reach probe on this machine's real Docker engine, against a real runner: which URL a container
actually reaches, and what each candidate did when none does."""

import json
import re
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import docker
import pytest

from compose_models.container_run import run_to_end
from compose_models.docker_host import detect_docker_host
from compose_models.runner.control.state import read_state
from compose_models.runner.reach.probe import ANSWERED, Candidate, probe
from tests.conftest import docker_available, free_port, require, run_cli

pytestmark = pytest.mark.docker


@pytest.fixture
def port(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    require(docker_available(), "a running Docker engine")
    chosen = free_port()
    monkeypatch.setenv("COMPOSE_MODELS_PORT", str(chosen))
    yield chosen
    run_cli("stop", check=False)


def _container_fetch(url: str) -> str:
    """What a busybox container on a fresh user-defined network (as Compose makes) gets from ``url``."""
    client = docker.from_env()
    network = client.networks.create(f"reach-test-{uuid.uuid4().hex[:8]}", driver="bridge")
    try:
        # Not containers.run(remove=True): its output of a container that exits at once sometimes comes back empty.
        finished = run_to_end(client, "busybox:1.36", ["wget", "-qO-", url], timeout=60, network=network.name)
        assert finished.status == 0, f"wget {url}: exit status {finished.status}: {finished.stderr.decode()}"
        return finished.stdout.decode()
    finally:
        network.remove()
        client.close()


def test_a_linux_engine_is_reached_at_its_bridge_gateway(port: int, isolated_home) -> None:
    gateways = detect_docker_host().local_bridge_gateways()
    require(bool(gateways), "a local Linux Docker engine with a bridge gateway on this machine", linux_only=True)
    run_cli("serve", "--detach")
    state = json.loads((isolated_home / "runner/state.json").read_text())
    assert state["hosts"] == ["127.0.0.1", *gateways]  # loopback plus this machine's own bridge address
    status = json.loads(run_cli("status", "--json").stdout)
    assert status["endpoint"] == f"http://{gateways[0]}:{port}/engines/v1/"
    assert status["reach"]["probed"] and not status["reach"]["hostGateway"]
    assert status["kind"] == "Linux"
    assert json.loads(_container_fetch(f"{status['endpoint']}models"))["object"] == "list"
    cache = json.loads((isolated_home / "runner/reach.json").read_text())
    assert cache == {f"{status['reach']['engine']} {port}": {"host": gateways[0], "host_gateway": False}}
    # The cached route is checked, not trusted: a stale entry is probed again and corrected.
    (isolated_home / "runner/reach.json").write_text(json.dumps({f"{status['reach']['engine']} {port}": {"host": "203.0.113.99"}}))
    assert json.loads(run_cli("status", "--json").stdout)["endpoint"] == status["endpoint"]
    assert json.loads((isolated_home / "runner/reach.json").read_text()) == cache


PROBE_RUNS = 30


def test_the_probe_gets_its_answer_every_time(port: int, isolated_home) -> None:
    """The probe, run many times in a row against one runner, never loses its answer. Each run's container
    output is read once it exited: read as docker-py's containers.run(remove=True) does, 1 run in 3 once came
    back empty, which reads as every candidate timing out, so `up` or `doctor` passed over a working route or
    failed by chance. Each run tries the route that answers here alone, as every `up` and `doctor` checks the
    cached route: its container exits at once, the case that lost its output (and a full probe takes ~5 s
    here, where the names' lookups have no DNS server to fail them; test_a_linux_engine_... runs that)."""
    gateways = detect_docker_host().local_bridge_gateways()
    require(bool(gateways), "a local Linux Docker engine with a bridge gateway on this machine", linux_only=True)
    run_cli("serve", "--detach")
    state = read_state()
    assert state is not None and state.reach_secret
    docker = detect_docker_host()
    outcomes = [
        probe(docker, state.port, state.reach_secret, [Candidate(gateways[0])])[-1].describe() for _ in range(PROBE_RUNS)
    ]
    assert outcomes == [f"{gateways[0]}: {ANSWERED}"] * PROBE_RUNS, "\n".join(outcomes)


class _NotOurRunner(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = b"hello from some other server\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_when_no_candidate_answers_each_says_why(port: int) -> None:
    gateways = detect_docker_host().local_bridge_gateways()
    require(bool(gateways), "a local Linux Docker engine with a bridge gateway on this machine", linux_only=True)
    run_cli("serve", "--detach", "--host", "127.0.0.1")  # containers cannot reach loopback on a Linux engine
    # Something else answers on the gateway's port: host-gateway reaches it, and it is not our runner.
    impostor = ThreadingHTTPServer((gateways[0], port), _NotOurRunner)
    threading.Thread(target=impostor.serve_forever, daemon=True).start()
    try:
        result = run_cli("status", "--json", check=False)
    finally:
        impostor.shutdown()
        impostor.server_close()
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert f"reaches the runner on port {port}" in result.stderr
    for name in ("host.docker.internal", "host.containers.internal", "host.lima.internal"):
        # No such name where DNS answers; where it has no upstream (this CI machine) the lookup times out.
        assert re.search(rf"- {name}: (no such name|timed out \(still looking the name up)", result.stderr), result.stderr
    assert "host.docker.internal (extra_hosts host-gateway): wrong nonce" in result.stderr
    assert "hello from some other server" in result.stderr
