"""The reach probe's image: pulled by digest when the engine lacks it, so whoever answers for the tag cannot
choose what runs; an image already on the engine under the tag (built offline) is used as it is.

The engine is a stand-in: a small Docker Engine API server on 127.0.0.1 that records what it is asked, since
no registry answers on the test machines and the real engine's busybox:1.36 must stay as it is."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import docker
import pytest

from compose_models.runner.reach.probe import PROBE_IMAGE, PROBE_IMAGE_DIGEST, _require_image

API = "1.41"
PULLED_ID = "sha256:" + "ab" * 32


class StandInEngine(ThreadingHTTPServer):
    def __init__(self, has_tag: bool) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.has_tag = has_tag
        self.requests: list[tuple[str, str, dict[str, list[str]]]] = []


class _Handler(BaseHTTPRequestHandler):
    server: StandInEngine

    def log_message(self, *args) -> None:
        pass

    def _answer(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self, method: str) -> None:
        url = urlsplit(self.path)
        path, query = url.path.removeprefix(f"/v{API}"), parse_qs(url.query)
        self.server.requests.append((method, path, query))
        if method == "GET" and path == f"/images/{PROBE_IMAGE}/json":
            if self.server.has_tag:
                return self._answer(200, {"Id": "sha256:" + "cd" * 32, "RepoTags": [PROBE_IMAGE]})
            return self._answer(404, {"message": f"No such image: {PROBE_IMAGE}"})
        if method == "POST" and path == "/images/create":
            return self._answer(200, {"status": "Digest: " + query.get("tag", [""])[0]})
        if method == "GET" and path.startswith("/images/") and path.endswith("/json"):
            return self._answer(200, {"Id": PULLED_ID, "RepoTags": []})
        if method == "POST" and path == f"/images/{PULLED_ID}/tag":
            return self._answer(201, {})
        return self._answer(404, {"message": f"the stand-in engine does not serve {method} {path}"})

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self.headers.get("Content-Length") and self.rfile.read(int(self.headers["Content-Length"]))
        self._route("POST")


def _engine(has_tag: bool) -> Iterator[tuple[StandInEngine, docker.DockerClient]]:
    engine = StandInEngine(has_tag)
    thread = threading.Thread(target=engine.serve_forever, daemon=True)
    thread.start()
    client = docker.DockerClient(base_url=f"tcp://127.0.0.1:{engine.server_address[1]}", version=API, timeout=10)
    try:
        yield engine, client
    finally:
        client.close()
        engine.shutdown()
        engine.server_close()


@pytest.fixture
def engine_without_image() -> Iterator[tuple[StandInEngine, docker.DockerClient]]:
    yield from _engine(has_tag=False)


@pytest.fixture
def engine_with_image() -> Iterator[tuple[StandInEngine, docker.DockerClient]]:
    yield from _engine(has_tag=True)


def test_a_missing_probe_image_is_pulled_by_digest_and_tagged(engine_without_image) -> None:
    engine, client = engine_without_image
    _require_image(client)
    [pull] = [query for method, path, query in engine.requests if path == "/images/create"]
    assert pull["fromImage"] == ["busybox"] and pull["tag"] == [PROBE_IMAGE_DIGEST]
    assert PROBE_IMAGE_DIGEST.startswith("sha256:") and len(PROBE_IMAGE_DIGEST) == 71
    [tagged] = [query for method, path, query in engine.requests if path.endswith("/tag")]
    assert (tagged["repo"], tagged["tag"]) == (["busybox"], ["1.36"])


def test_a_probe_image_on_the_engine_is_used_without_a_pull(engine_with_image) -> None:
    engine, client = engine_with_image
    _require_image(client)
    assert [path for method, path, query in engine.requests] == [f"/images/{PROBE_IMAGE}/json"]
