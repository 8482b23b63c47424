"""A stand-in for a hostile upstream (another machine's OpenAI-compatible server), on loopback.

A real server never misbehaves on purpose, so this small one does what a hostile or broken upstream could,
chosen by the model a request names: a whole answer far larger than any chat answer, a huge error body, an
SSE stream that never ends its frame, a redirect. With ``trickle`` set, its model list comes one byte every
``trickle`` seconds. It records when its list was asked for and when it found its client gone, so a test can tell when the runner gave up.
"""

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MiB = 1 << 20
HUGE_JSON, HUGE_ERROR, ENDLESS_FRAME, REDIRECT = "huge-json", "huge-error", "endless-frame", "redirect"
MODELS = [HUGE_JSON, HUGE_ERROR, ENDLESS_FRAME, REDIRECT]


@dataclass
class HostileUpstream:
    answer_bytes: int = 128 * MiB  # of the huge answers
    trickle: float | None = None  # seconds between two bytes of the model list
    listed: list[float] = field(default_factory=list)  # monotonic times at which its model list was asked for
    gone: list[float] = field(default_factory=list)  # monotonic times at which a client stopped reading
    sent: int = 0  # body bytes written

    def __post_init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]


@contextlib.contextmanager
def hostile_upstream(**settings: float | None) -> Iterator[HostileUpstream]:
    upstream = HostileUpstream(**settings)
    thread = threading.Thread(target=upstream.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield upstream
    finally:
        upstream.server.shutdown()
        upstream.server.server_close()


def _handler(upstream: HostileUpstream) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # the body ends when the connection closes: no length to declare

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            upstream.listed.append(time.monotonic())
            listing = json.dumps({"object": "list", "data": [{"id": name, "object": "model"} for name in MODELS]})
            if upstream.trickle is None:
                return self._answer(200, "application/json", [listing.encode()])
            self._answer(200, "application/json", (bytes([byte]) for byte in listing.encode()), pause=upstream.trickle)

        def do_POST(self) -> None:
            model = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))["model"]
            filler = (b"a" * MiB for _ in range(upstream.answer_bytes // MiB))
            if model == HUGE_JSON:
                start, end = b'{"choices":[{"index":0,"message":{"role":"assistant","content":"', b'"}}]}'
                self._answer(200, "application/json", [start, *filler, end])
            elif model == HUGE_ERROR:
                self._answer(500, "text/plain", filler)
            elif model == ENDLESS_FRAME:
                self._answer(200, "text/event-stream", [b"data: ", *filler])
            elif model == REDIRECT:
                self.send_response(307)
                self.send_header("Location", "http://127.0.0.1:9/v1/chat/completions")
                self.end_headers()
                self.wfile.write(b'{"choices":[{"message":{"role":"assistant","content":"moved"}}]}')

        def _answer(self, status: int, media_type: str, parts, pause: float = 0.0) -> None:
            self.send_response(status)
            self.send_header("Content-Type", media_type)
            self.end_headers()
            try:
                for part in parts:
                    self.wfile.write(part)
                    self.wfile.flush()
                    upstream.sent += len(part)
                    if pause:
                        time.sleep(pause)
            except OSError:  # the runner stopped reading and closed the connection
                upstream.gone.append(time.monotonic())

    return Handler
