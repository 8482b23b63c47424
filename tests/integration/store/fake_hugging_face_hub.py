"""A fake of the public Hugging Face Hub's HTTP API: the one part of an hf.co pull that cannot run here.

It answers only what huggingface_hub asks during a pull, from real files the test writes:
``GET /api/models/<repo>[/revision/<rev>]`` (files, sizes, LFS sha256, lastModified) and
``HEAD``/``GET /<repo>/resolve/<rev>/<path>`` (with Range). Repository names are matched with their
case, as the Hub's API does. Every request path is recorded so a test can tell if the network was used.
"""

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

COMMIT = "c0ffee" + "0" * 34
_LFS_SUFFIXES = (".gguf", ".safetensors")


@dataclass
class FakeRepository:
    files: dict[str, Path]  # path in the repository → the local file served for it
    last_modified: str = "2025-03-04T05:06:07.000Z"
    corrupt: set[str] = field(default_factory=set)  # paths served with bytes that do not match their sha256

    def body(self, path: str) -> bytes:
        data = self.files[path].read_bytes()
        return data[:-1] + bytes([data[-1] ^ 0xFF]) if path in self.corrupt else data

    def etag(self, path: str) -> str:
        data = self.files[path].read_bytes()
        if path.endswith(_LFS_SUFFIXES):
            return hashlib.sha256(data).hexdigest()
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # git's blob ID

    def sibling(self, path: str) -> dict[str, object]:
        size = self.files[path].stat().st_size
        entry: dict[str, object] = {"rfilename": path, "size": size, "blobId": self.etag(path)}
        if path.endswith(_LFS_SUFFIXES):
            entry["lfs"] = {"sha256": self.etag(path), "size": size, "pointerSize": 135}
        return entry


class FakeHub:
    def __init__(self) -> None:
        self.repositories: dict[str, FakeRepository] = {}
        self.requests: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def info(self, repo_id: str) -> dict[str, object]:
        repository = self.repositories[repo_id]
        siblings = [repository.sibling(path) for path in sorted(repository.files)]
        return {"id": repo_id, "modelId": repo_id, "sha": COMMIT, "lastModified": repository.last_modified,
                "private": False, "siblings": siblings}  # fmt: skip


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            self._answer(send_body=False)

        def do_GET(self) -> None:
            self._answer(send_body=True)

        def _answer(self, send_body: bool) -> None:
            path = unquote(urlsplit(self.path).path)
            hub.requests.append(f"{self.command} {path}")
            if path.startswith("/api/models/"):
                repo_id = re.sub(r"/revision/[^/]+$", "", path.removeprefix("/api/models/"))
                if repo_id not in hub.repositories:
                    return self._not_found("RepoNotFound")
                return self._send(200, json.dumps(hub.info(repo_id)).encode(), {"Content-Type": "application/json"}, send_body)
            repo_id, _, rest = path.lstrip("/").partition("/resolve/")
            file_path = rest.partition("/")[2]
            repository = hub.repositories.get(repo_id)
            if repository is None:
                return self._not_found("RepoNotFound")
            if file_path not in repository.files:
                return self._not_found("EntryNotFound")
            body = repository.body(file_path)
            headers = {"X-Repo-Commit": COMMIT, "ETag": f'"{repository.etag(file_path)}"', "Accept-Ranges": "bytes"}
            start = int(match[1]) if (match := re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))) else 0
            if start:
                headers["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
            self._send(206 if start else 200, body[start:], headers, send_body)

        def _not_found(self, code: str) -> None:
            self._send(404, b'{"error":"not found"}', {"X-Error-Code": code, "Content-Type": "application/json"}, True)

        def _send(self, status: int, body: bytes, headers: dict[str, str], send_body: bool) -> None:
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            if send_body:
                self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def fake_hugging_face_hub() -> Iterator[FakeHub]:
    hub = FakeHub()
    thread = threading.Thread(target=hub.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        hub.server.shutdown()
        hub.server.server_close()
