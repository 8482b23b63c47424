"""A bearer-token server for a real ``docker-registry`` configured with ``auth: token`` (as Docker Hub works).

It answers ``GET /token?service=…&scope=…`` for one user (HTTP Basic) with a JWT granting the requested
scopes, signed RS256 by ``openssl`` with a key whose self-signed certificate the registry trusts
(``rootcertbundle``) and which the token carries in its ``x5c`` header.
"""

import base64
import json
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ISSUER, SERVICE = "test-token-issuer", "test-registry"


class TokenServer:
    def __init__(self, directory: Path, username: str, password: str) -> None:
        self.key, self.certificate = directory / "token-key.pem", directory / "token-cert.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={ISSUER}",
             "-keyout", str(self.key), "-out", str(self.certificate)],
            check=True, capture_output=True,
        )  # fmt: skip
        der = subprocess.run(
            ["openssl", "x509", "-in", str(self.certificate), "-outform", "DER"], check=True, capture_output=True
        ).stdout
        self._x5c = base64.b64encode(der).decode()
        self._basic = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.realm = f"http://127.0.0.1:{self.server.server_address[1]}/token"

    def registry_auth(self) -> str:
        """The ``auth:`` block of the registry's config.yml."""
        return (f"auth:\n  token:\n    realm: {self.realm}\n    service: {SERVICE}\n    issuer: {ISSUER}\n"
                f"    rootcertbundle: {self.certificate}\n")  # fmt: skip

    def token(self, scopes: list[str], subject: str) -> str:
        access = []
        for scope in scopes:
            kind, name, actions = scope.split(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": subject, "aud": SERVICE, "exp": now + 300, "nbf": now - 10, "iat": now,
                  "jti": uuid.uuid4().hex, "access": access}  # fmt: skip
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.key)], input=signing_input.encode(),
            check=True, capture_output=True,
        ).stdout  # fmt: skip
        return f"{signing_input}.{_b64url(signature)}"

    def answer(self, authorization: str | None, scopes: list[str]) -> tuple[int, dict[str, str]]:
        if authorization is None:  # an anonymous token, as Docker Hub gives, that grants nothing here
            token = self.token([], "")
        elif authorization == self._basic:
            token = self.token(scopes, "tester")
        else:
            return 401, {"details": "incorrect username or password"}
        return 200, {"token": token, "access_token": token, "expires_in": "300"}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _handler(server: TokenServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            scopes = parse_qs(urlsplit(self.path).query).get("scope", [])
            status, body = server.answer(self.headers.get("Authorization"), [s for scope in scopes for s in scope.split()])
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def served(http_server: ThreadingHTTPServer) -> Iterator[None]:
    """``http_server`` answering on a thread of its own until the block ends."""
    threading.Thread(target=http_server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield
    finally:
        http_server.shutdown()
        http_server.server_close()


@contextmanager
def token_server(directory: Path, username: str, password: str) -> Iterator[TokenServer]:
    server = TokenServer(directory, username, password)
    with served(server.server):
        yield server
