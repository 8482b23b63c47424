"""The CLI's loopback HTTP (http.client, no httpx): answers read whole, with a bound, and whatever is not
an HTTP answer reported as LocalHTTPError (which the CLI turns into a message, never a traceback)."""

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from compose_models.errors import UserError
from compose_models.runner.control import local_http
from compose_models.runner.control.client import RunnerClient
from compose_models.runner.control.local_http import LocalHTTPError, local_get, local_request
from compose_models.runner.control.port_choice import port_holder
from compose_models.runner.control.state import RunnerState


class _Handler(BaseHTTPRequestHandler):
    server_version = "TestServer/1.0"

    def do_GET(self) -> None:
        body = b'{"hello": "world"}' if self.path == "/small" else b"x" * 4096
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        received = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(409)
        self.send_header("Content-Length", str(len(received)))
        self.end_headers()
        self.wfile.write(received)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


def test_an_answer_is_read_whole_with_its_status_and_headers(server: int) -> None:
    answer = local_get(f"http://127.0.0.1:{server}/small")
    assert (answer.status_code, answer.json(), answer.headers["server"].startswith("TestServer/1.0")) == (200, {"hello": "world"}, True)
    posted = local_request("POST", f"http://127.0.0.1:{server}/echo", json={"model": "m"})
    assert (posted.status_code, posted.json()) == (409, {"model": "m"})


def test_an_answer_over_the_bound_is_refused(server: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_http, "MAX_ANSWER_BYTES", 1024)
    with pytest.raises(LocalHTTPError, match="larger than 1024 bytes"):
        local_get(f"http://127.0.0.1:{server}/large")


def test_a_program_that_does_not_speak_http_is_an_error_not_a_hang() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        def babble() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.recv(1024)
                connection.sendall(b"SSH-2.0-OpenSSH\r\n")

        thread = threading.Thread(target=babble, daemon=True)
        thread.start()
        with pytest.raises(LocalHTTPError):
            local_get(f"http://127.0.0.1:{port}/", timeout=10.0)
        thread.join(timeout=10)


def test_nobody_listening_is_a_clear_error_from_the_runner_client() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nobody listens there
    with pytest.raises(UserError, match="ps: the runner did not answer"):
        RunnerClient(RunnerState(pid=1, port=port, hosts=["127.0.0.1"])).running()


def test_the_port_holder_is_named_from_its_answer(server: int) -> None:
    holder = port_holder(server)
    assert holder is not None and holder.startswith("another HTTP server (TestServer/1.0"), holder
