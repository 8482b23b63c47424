"""The runner's log lines and request log on a full disk (``/dev/full``: every write fails with ENOSPC):
nothing raises, nothing else is written instead, and the lost lines are told once the log can be written."""

import asyncio
import io
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from compose_models.gateway.request_log import RequestEntry, RequestLog
from compose_models.runner.upstreams.config import load_upstreams
from compose_models.runner.upstreams.health import UpstreamHealth
from tests.conftest import require

ENTRY = RequestEntry("2026-01-01T00:00:00Z", "req-1", "anonymous", "anonymous", None, None, None,
                     "127.0.0.1", "/v1/chat/completions", "m", 200, 1, 1, None, 0.1)  # fmt: skip


def test_saying_to_a_full_disk_does_not_raise() -> None:
    require(Path("/dev/full").exists(), "/dev/full, a file whose writes fail with ENOSPC", linux_only=True)
    code = "from compose_models.log import say; say('one'); say('two'); print('went on')"
    with open("/dev/full", "w") as full:
        ran = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=full, text=True, timeout=60)
    assert (ran.returncode, ran.stdout) == (0, "went on\n")


def test_the_lines_lost_are_told_when_the_log_can_be_written_again(monkeypatch: pytest.MonkeyPatch) -> None:
    from compose_models.log import say

    class Failing(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(sys, "stderr", io.StringIO())
    say("written, so no earlier loss is counted")
    monkeypatch.setattr(sys, "stderr", Failing())
    say("lost one")
    say("lost two")
    written = io.StringIO()
    monkeypatch.setattr(sys, "stderr", written)
    say("back")
    assert written.getvalue().splitlines() == [
        "compose-models runner: 2 earlier log line(s) could not be written (disk full?)",
        "compose-models runner: back",
    ]


def test_the_request_log_on_a_full_disk_drops_its_lines_quietly(capfd: pytest.CaptureFixture[str]) -> None:
    require(Path("/dev/full").exists(), "/dev/full, a file whose writes fail with ENOSPC", linux_only=True)
    log = RequestLog(Path("/dev/full"))
    try:
        log.write(ENTRY)
        log.write(ENTRY)
    finally:
        log.close()
    assert capfd.readouterr().err == ""  # logging's default: a traceback per line, to a stderr as full


def test_an_upstream_ejected_while_the_log_is_full_comes_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The line saying an upstream is ejected cannot be written; its health checks go on all the same."""
    require(Path("/dev/full").exists(), "/dev/full, a file whose writes fail with ENOSPC", linux_only=True)
    status = {"code": 503}

    class Health(BaseHTTPRequestHandler):  # a stand-in upstream whose health check fails, then passes
        def do_GET(self) -> None:
            self.send_response(status["code"])
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    (tmp_path / "upstreams.yaml").write_text(
        f"upstreams: [{{name: box, url: 'http://127.0.0.1:{server.server_address[1]}', kind: vllm, models: '*',"
        " health: {interval: 0.05, failures: 1}}]"
    )
    [upstream] = load_upstreams(tmp_path / "upstreams.yaml", required=True)
    full = open("/dev/full", "w")  # noqa: SIM115 - stderr for the rest of the test
    monkeypatch.setattr(sys, "stderr", full)

    async def watch() -> list[bool]:
        health = UpstreamHealth([upstream])
        seen = []
        async with httpx.AsyncClient() as http:
            health.start(http)
            try:
                for wanted, code in ((True, 503), (False, 200)):
                    status["code"] = code
                    deadline = time.monotonic() + 10
                    while health.is_ejected(upstream) != wanted and time.monotonic() < deadline:
                        await asyncio.sleep(0.02)
                    seen.append(health.is_ejected(upstream))
            finally:
                await health.stop()
        return seen

    try:
        assert asyncio.run(watch()) == [True, False]
    finally:
        server.shutdown()
        server.server_close()
        monkeypatch.undo()
        try:
            full.close()
        except OSError:
            pass
