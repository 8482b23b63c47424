"""What a caller that is not this machine's CLI is refused: management requests, the refusal they must get,
and a way to send them from a busybox container, raw through ``nc`` (busybox's wget neither deletes nor shows
an error's body)."""

import base64
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import LOCAL_MODEL_TAG

Request = tuple[str, str, dict[str, Any] | None]  # method, path, JSON body

CHAT: dict[str, Any] = {"model": LOCAL_MODEL_TAG, "max_tokens": 1, "messages": [{"role": "user", "content": "Hi"}]}
# (method, path, JSON body, the API whose error shape the 403 has): pull, delete, configure, unload and others'
# requests, in Docker Model Runner's and Ollama's management APIs.
MANAGEMENT: list[tuple[str, str, dict[str, Any] | None, str]] = [
    ("POST", "/models/create", {"from": "ai/smollm2"}, "dmr"),
    ("POST", "/api/pull", {"model": "smollm2"}, "ollama"),
    ("DELETE", f"/models/{LOCAL_MODEL_TAG}", None, "dmr"),
    ("DELETE", "/api/delete", {"model": LOCAL_MODEL_TAG}, "ollama"),
    ("POST", "/engines/_configure", {"model": LOCAL_MODEL_TAG, "context-size": 1024}, "dmr"),
    ("POST", "/engines/unload", {"all": True}, "dmr"),
    ("POST", "/engines/_load", {"model": LOCAL_MODEL_TAG, "project": "shop"}, "dmr"),
    ("POST", "/engines/_release", {"project": "shop"}, "dmr"),
    ("GET", "/engines/requests", None, "dmr"),
    ("GET", "/engines/ps?engine", None, "dmr"),  # where each engine listens, and its key
]


def assert_refused(status: int, body: str, shape: str, what: object, key_path: Path) -> None:
    """A 403 in the API's error shape that says who may manage, and how."""
    assert status == 403, (what, status, body)
    message = json.loads(body)["error"] if shape == "ollama" else body  # Docker Model Runner's: plain text
    assert "compose-models CLI" in message and str(key_path) in message, (what, message)
    assert "--open-management" in message, (what, message)


@dataclass(frozen=True)
class ContainerRequests:
    script: str  # for ``sh -c``
    separator: str

    def answers(self, output: str) -> list[tuple[int, str]]:
        """Each answer's status and body, from the container's output."""
        found = []
        for raw in output.split(self.separator + "\n")[1:]:
            head, _, body = raw.replace("\r\n", "\n").partition("\n\n")  # as text, a subprocess's lines end in \n
            status_line = head.splitlines()[0] if head else ""
            assert status_line.startswith("HTTP/1."), output
            found.append((int(status_line.split()[1]), body))
        return found


def container_requests(host: str, port: int, requests: list[Request]) -> ContainerRequests:
    """``requests`` to ``host``:``port``, one connection each (HTTP/1.0, so the server closes it after its answer,
    which ends nc)."""
    separator = f"---{uuid.uuid4().hex}---"
    lines = []
    for method, path, body in requests:
        payload = json.dumps(body).encode() if body is not None else b""
        head = (
            f"{method} {path} HTTP/1.0\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
        )
        encoded = base64.b64encode(head.encode() + payload).decode()
        # nc's input stays open until the answer is in: an end of input would reach the runner as a client
        # that left (and a slow answer, a chat, would be cancelled).
        lines.append(
            f"echo {separator}; d=$(mktemp -d); mkfifo $d/in; nc {host} {port} <$d/in >$d/out & pid=$!; "
            f"exec 3>$d/in; echo {encoded} | base64 -d >&3; wait $pid; exec 3>&-; cat $d/out; rm -r $d"
        )
    return ContainerRequests("; ".join(lines), separator)
