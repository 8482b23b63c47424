"""A stand-in for a hostile OCI registry (and for the other hosts it points clients at), on loopback.

A real registry never misbehaves on purpose, so this small server does what a hostile or broken one
could: send a blob longer than its manifest declares, serve huge manifests and configs, challenge with a
Bearer realm on another host, answer token requests with a body that must not be echoed, redirect blob
downloads and hand out upload Locations on another host. It records every request and its headers, so a
test can tell what a client sent where. ``127.0.0.2`` is another host for these tests: Linux routes all of
127.0.0.0/8 to the loopback interface.
"""

import hashlib
import json
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from tests.integration.store.token_server import served

_CHUNK = 1 << 20


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class HostileRegistry:
    host: str = "127.0.0.1"
    manifests: dict[str, bytes] = field(default_factory=dict)  # "repository:reference" → raw manifest
    blobs: dict[str, bytes] = field(default_factory=dict)  # digest → bytes
    blob_tails: dict[str, int] = field(default_factory=dict)  # digest → zeros sent after it, with no Content-Length
    before_blob: dict[str, Callable[[], None]] = field(default_factory=dict)  # digest → run before sending it
    challenge: str | None = None  # WWW-Authenticate answered to any request without Authorization
    blob_redirect: str | None = None  # base URL that blob downloads are redirected to
    upload_location: str | None = None  # base URL that upload sessions are handed out on
    token_answer: tuple[int, bytes] = (200, b'{"token": "stand-in-token"}')
    tls: tuple[Path, Path] | None = None  # certificate and key: serve https
    requests: list[Recorded] = field(default_factory=list)
    sent: int = 0  # body bytes written to clients

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer((self.host, 0), _handler(self))
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.address = f"{self.host}:{self.server.server_address[1]}"
        self.url = f"{'https' if self.tls else 'http'}://{self.address}"

    def serve(self, repository: str, tag: str, manifest: bytes, blobs: dict[str, bytes]) -> None:
        self.manifests[f"{repository}:{tag}"] = manifest
        self.manifests[f"{repository}:sha256:{hashlib.sha256(manifest).hexdigest()}"] = manifest
        self.blobs.update(blobs)

    def record(self, request: Recorded) -> None:
        with self._lock:
            self.requests.append(request)

    def count_sent(self, amount: int) -> None:
        with self._lock:
            self.sent += amount

    def authorizations(self) -> list[str]:
        with self._lock:
            return [request.headers["authorization"] for request in self.requests if "authorization" in request.headers]


def _handler(registry: HostileRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._answer(with_body=True)

        def do_HEAD(self) -> None:
            self._answer(with_body=False)

        def do_POST(self) -> None:
            self._answer(with_body=True)

        def do_PUT(self) -> None:
            self._answer(with_body=True)

        def do_DELETE(self) -> None:
            self._answer(with_body=True)

        def _answer(self, with_body: bool) -> None:
            headers = {key.lower(): value for key, value in self.headers.items()}
            registry.record(Recorded(self.command, self.path, headers))
            body = self.rfile.read(int(headers.get("content-length", 0) or 0))
            path = urlsplit(self.path).path
            if path == "/token":
                status, answer = registry.token_answer
                return self._send(status, answer, {"Content-Type": "application/json"}, with_body)
            if registry.challenge and "authorization" not in headers:
                return self._send(401, b'{"errors": [{"code": "UNAUTHORIZED"}]}',
                                  {"WWW-Authenticate": registry.challenge}, with_body)  # fmt: skip
            if path.startswith("/upload/"):
                registry.blobs["sha256:" + hashlib.sha256(body).hexdigest()] = body
                return self._send(201, b"", {}, with_body)
            parts = path.removeprefix("/v2/").rsplit("/", 2)
            if path.startswith("/blobs/") or (len(parts) == 3 and parts[1] == "blobs"):
                return self._blob(path.rsplit("/", 1)[-1], with_body)
            if len(parts) == 3 and parts[1] == "manifests":
                return self._manifest(f"{parts[0]}:{parts[2]}", body, with_body)
            if path.endswith("/blobs/uploads/"):
                base = registry.upload_location or registry.url
                return self._send(202, b"", {"Location": f"{base}/upload/{uuid.uuid4().hex}"}, with_body)
            self._send(404, b'{"errors": [{"code": "NOT_FOUND"}]}', {}, with_body)

        def _manifest(self, key: str, body: bytes, with_body: bool) -> None:
            if self.command == "PUT":
                registry.manifests[key] = body
                digest = "sha256:" + hashlib.sha256(body).hexdigest()
                return self._send(201, b"", {"Docker-Content-Digest": digest}, with_body)
            manifest = registry.manifests.get(key)
            if manifest is None:
                return self._send(404, b'{"errors": [{"code": "MANIFEST_UNKNOWN"}]}', {}, with_body)
            try:
                media_type = json.loads(manifest).get("mediaType")
            except (ValueError, AttributeError):
                media_type = None
            headers = {"Content-Type": media_type or "application/vnd.oci.image.manifest.v1+json"}
            self._send(200, manifest, headers, with_body)

        def _blob(self, digest: str, with_body: bool) -> None:
            if registry.blob_redirect and not self.path.startswith("/blobs/"):
                return self._send(307, b"", {"Location": f"{registry.blob_redirect}/blobs/{digest}"}, with_body)
            data = registry.blobs.get(digest)
            if data is None:
                return self._send(404, b'{"errors": [{"code": "BLOB_UNKNOWN"}]}', {}, with_body)
            if with_body and digest in registry.before_blob:
                registry.before_blob[digest]()
            tail = registry.blob_tails.get(digest, 0)
            if not tail or not with_body:
                return self._send(200, data, {"Content-Type": "application/octet-stream"}, with_body)
            self.close_connection = True  # the body ends when the connection does: nothing bounds it
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                self._write(data)
                left = tail
                while left > 0:
                    self._write(b"\0" * min(_CHUNK, left))
                    left -= _CHUNK
            except OSError:
                pass  # the client stopped reading

        def _write(self, data: bytes) -> None:
            self.wfile.write(data)
            registry.count_sent(len(data))

        def _send(self, status: int, body: bytes, headers: dict[str, str], with_body: bool) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if with_body and body:
                try:
                    self._write(body)
                except OSError:
                    pass

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def hostile_registry(host: str = "127.0.0.1", tls: tuple[Path, Path] | None = None) -> Iterator[HostileRegistry]:
    registry = HostileRegistry(host, tls=tls)
    with served(registry.server):
        yield registry
