"""A streaming client that stops reading is dropped after the send bound, so it cannot hold an engine.

The client is a raw socket with a small receive buffer that asks for a long stream and never reads
it. Once the socket's buffers are full (the runner's side holds megabytes), the runner's send
waits on it; after ``COMPOSE_MODELS_SEND_TIMEOUT`` seconds the runner stops the stream and releases
the engine, and the next caller is served by the engine's one slot.

The bound is the runner's, whatever the engine; llama-server is the engine here because it can
make each chunk large (``n_probs``: the probabilities of the top thousand tokens, about 100 kB a
token), which fills those buffers in seconds rather than minutes.
"""

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from compose_models.runner.backends import llama_server
from tests.conftest import LOCAL_MODEL_TAG, require
from tests.integration.scheduler.conftest import wait_until

SEND_TIMEOUT = 2.0
# A long answer of large chunks: no end of sequence (SmolLM2's <|im_end|> and <|endoftext|>).
LONG_STREAM = {
    "model": LOCAL_MODEL_TAG,
    "messages": [{"role": "user", "content": "Count from one to one thousand."}],
    "max_tokens": 3000,
    "stream": True,
    "n_probs": 1000,
    "logit_bias": {"0": -100, "2": -100},
}


@pytest.fixture
def backend() -> str:
    require(llama_server.find_binary() is not None, "llama-server is not built: run scripts/build-llama-server.sh")
    return llama_server.NAME


@contextlib.contextmanager
def _reader_that_never_reads(url: str) -> Iterator[socket.socket]:
    address = urlsplit(url)
    body = json.dumps(LONG_STREAM).encode()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        sock.connect((address.hostname, address.port))
        head = (
            f"POST /engines/v1/chat/completions HTTP/1.1\r\nHost: {address.netloc}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        sock.sendall(head.encode() + body)
        yield sock
    finally:
        sock.close()


def _in_use(url: str) -> bool:
    return any(entry.get("in_use") for entry in httpx.get(f"{url}/engines/ps", timeout=10).json())


def test_a_client_that_stops_reading_its_stream_releases_the_engine(start_runner) -> None:
    runner = start_runner(COMPOSE_MODELS_SEND_TIMEOUT=str(SEND_TIMEOUT))
    runner.cli("configure", LOCAL_MODEL_TAG, "--", "--parallel", "1")  # one slot: the stalled stream's
    assert runner.complete().status_code == 200
    with _reader_that_never_reads(runner.url):
        assert wait_until(lambda: _in_use(runner.url), 30), "the stream never started"
        # Its buffers fill within seconds; then the bound, then the engine is free again.
        assert wait_until(lambda: not _in_use(runner.url), 120), "the stalled stream still holds the engine"
        started = time.monotonic()
        answer = runner.complete()
        assert answer.status_code == 200, answer.text
        assert time.monotonic() - started < 30
