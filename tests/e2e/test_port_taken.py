"""Docker Model Runner already holds the runner's port: `up` still works, on another port, and says so.

The Docker Model Runner here is a stand-in (Docker Desktop cannot run on this machine): a tiny HTTP
server answering `GET /` the way Docker Model Runner does. It listens on a free port given to us as
COMPOSE_MODELS_PORT, so the test never depends on what holds 12434 on the machine.
"""

import os
import re
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import LOCAL_MODEL_TAG, REPO, docker_available, free_port, require, run_cli
from tests.e2e.stack import asked_model_and_url, assistant_answer

pytestmark = pytest.mark.docker

HELLO = str(REPO / "examples/compose/hello/compose.yaml")


class _DockerModelRunnerStandIn(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = b"Docker Model Runner\n\nThe service is running.\n" if self.path == "/" else b"404 page not found\n"
        self.send_response(200 if self.path == "/" else 404)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_up_moves_to_another_port_when_docker_model_runner_holds_it(packaged_smollm2: str, monkeypatch) -> None:
    require(docker_available(), "a running Docker engine")
    taken = free_port()
    stand_in = ThreadingHTTPServer(("127.0.0.1", taken), _DockerModelRunnerStandIn)
    threading.Thread(target=stand_in.serve_forever, daemon=True).start()
    monkeypatch.setenv("COMPOSE_MODELS_PORT", str(taken))
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    name = f"e2e-port-{uuid.uuid4().hex[:8]}"
    try:
        result = run_cli("up", "-f", HELLO, "-p", name, "--", "--abort-on-container-exit")
        output = result.stdout + result.stderr
        note = re.search(rf"port {taken} is held by Docker Model Runner; the runner listens on port (\d+) instead", output)
        assert note, output
        moved = int(note.group(1))
        assert moved != taken
        model, url = asked_model_and_url(output)
        assert model == LOCAL_MODEL_TAG
        assert f":{moved}/engines/v1/" in url  # the container was handed the port the runner really uses
        assistant_answer(output)
        status = run_cli("status", "--json").stdout
        assert f"http://127.0.0.1:{moved}/engines/v1/" in status  # later commands find it from the state file
    finally:
        run_cli("down", "-f", HELLO, "-p", name, "--", "--timeout", "0", check=False)
        run_cli("stop", check=False)
        stand_in.shutdown()
        stand_in.server_close()
