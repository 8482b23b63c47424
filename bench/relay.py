"""What the runner's streaming relay costs: a stand-in engine's stream straight, through the runner, and
through nginx as a reference proxy, in one run.

The stand-in engine (named as such: it only streams, it computes nothing) answers as llama-server does,
with its flags, ``/health`` and its chat completion chunks, one send per token as llama-server's slots
do, either as fast as the socket takes them or one token every ``--pace-ms`` per stream. The runner runs as a real ``compose-models serve`` process
with the stand-in as its llama-server (``LLAMA_SERVER_PATH``), so the request takes the runner's whole
path: the host check, the tap, the gateway, the scheduler, the engine call and the relay. nginx (when
installed: ``apt-get install nginx-light``) proxies straight to the stand-in, unbuffered.

    .venv/bin/python bench/relay.py [--streams 4] [--tokens 2000] [--paced-streams 8] [--pace-ms 2]
                                    [--paced-tokens 500] [--rounds 3] [--latency-samples 300]

Prints tokens/s of each path and their ratio to straight at full speed, each proxy's CPU time per
relayed token (utime + stime from ``/proc/PID/stat``: the runner's process, nginx's one process) at full
speed and at the pace, and the p50/p99 latency each proxy adds to a one-token chat request. The load
generator reads raw sockets over HTTP/1.0 (no proxy re-chunks the stream) and counts the content chunks'
bytes without parsing them, so that the client takes as little of the machine's CPU as it can.
"""

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

PACE_VARIABLE = "RELAY_BENCH_PACE_MS"  # read by the stand-in engine: milliseconds between tokens, 0 for none
MODEL_TAG = "bench/relay:stand-in"
CONTENT_MARK = b'"delta":{"content":"'


# --- the stand-in engine -------------------------------------------------------------------------------

def _chunk(delta: dict, finish: str | None = None) -> bytes:
    chunk = {"choices": [{"finish_reason": finish, "index": 0, "delta": delta}], "created": 1765000000,
             "id": "chatcmpl-standin0000000000000000000", "model": "model",
             "system_fingerprint": "b7000-standin", "object": "chat.completion.chunk"}  # fmt: skip
    return b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"


def _http_chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def _stand_in_answer(writer: asyncio.StreamWriter, request: dict, pace: float) -> None:
    tokens = int(request.get("max_tokens") or 16)
    usage = {"completion_tokens": tokens, "prompt_tokens": 12, "total_tokens": tokens + 12}
    if not request.get("stream"):
        body = json.dumps({
            "choices": [{"finish_reason": "length", "index": 0, "message": {"role": "assistant", "content": "x" * tokens}}],
            "created": 1765000000, "model": "model", "object": "chat.completion", "usage": usage,
            "id": "chatcmpl-standin0000000000000000000",
        }).encode()  # fmt: skip
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
                     b"Content-Length: %d\r\nKeep-Alive: timeout=5, max=100\r\n\r\n%s" % (len(body), body))  # fmt: skip
        await writer.drain()
        return
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
                 b"Keep-Alive: timeout=5, max=100\r\n\r\n" + _http_chunk(_chunk({"role": "assistant", "content": None})))  # fmt: skip
    token = _http_chunk(_chunk({"content": " tok"}))
    for _ in range(tokens):  # one send per token, as llama-server's slots do
        writer.write(token)
        await writer.drain()
        await asyncio.sleep(pace)
    last = _chunk({}, "length")
    if (request.get("stream_options") or {}).get("include_usage"):
        last += b"data: " + json.dumps({"choices": [], "created": 1765000000, "id": "chatcmpl-standin0000000000000000000",
                                        "model": "model", "object": "chat.completion.chunk", "usage": usage}).encode() + b"\n\n"  # fmt: skip
    writer.write(_http_chunk(last) + _http_chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
    await writer.drain()


async def _stand_in_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pace: float) -> None:
    with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path = lines[0].split(" ")[:2]
            headers = {key.strip().lower(): value.strip() for key, _, value in (line.partition(":") for line in lines[1:] if line)}
            body = await reader.readexactly(int(headers.get("content-length", 0)))
            if method == "GET":
                answer = b'{"status":"ok"}' if path == "/health" else b'{"object":"list","data":[]}'
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(answer), answer))
            elif path == "/completion":  # the runner's smoke test of a llama-server binary
                answer = b'{"content":"a","tokens":[1]}'
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(answer), answer))
            else:
                await _stand_in_answer(writer, json.loads(body or b"{}"), pace)
            await writer.drain()
            if headers.get("connection", "").lower() == "close":
                break
    writer.close()


def stand_in_engine(arguments: list[str]) -> None:
    """Run as llama-server: what the runner asks of the binary, then serve on ``--port``."""
    if "--version" in arguments:
        print("version: 7000 (stand-in)")
        return
    if "--list-devices" in arguments:
        print("Available devices:\n  (none)")
        return
    port = int(arguments[arguments.index("--port") + 1])
    pace = float(os.environ.get(PACE_VARIABLE, "0")) / 1000

    async def serve() -> None:
        server = await asyncio.start_server(lambda r, w: _stand_in_connection(r, w, pace), "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


# --- the paths measured --------------------------------------------------------------------------------

@dataclass
class Target:
    name: str
    port: int
    path: str  # of chat completions
    model: str
    pid: int | None = None  # the proxy's process, whose CPU time is measured
    rate: list[float] = field(default_factory=list)  # tokens/s per full-speed round
    cpu: dict[str, float] = field(default_factory=dict)  # scenario -> CPU seconds summed over rounds
    tokens: dict[str, int] = field(default_factory=dict)  # scenario -> tokens received summed over rounds
    latencies: list[float] = field(default_factory=list)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_ready(port: int, path: str, process: subprocess.Popen, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{process.args[0]} exited before it answered on port {port}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise SystemExit(f"port {port} was not ready after {timeout}s")


@contextlib.contextmanager
def _process(argv: list[str], port: int, ready: str, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen]:
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        _wait_ready(port, ready, process)
        yield process
    finally:
        process.terminate()
        process.wait(30)


def write_stand_in_binary(directory: Path) -> Path:
    binary = directory / "llama-server"
    binary.write_text(f"#!/bin/sh\nexec {sys.executable} {Path(__file__).resolve()} --stand-in-engine \"$@\"\n")
    binary.chmod(0o755)
    return binary


@contextlib.contextmanager
def straight(binary: Path, pace_ms: float) -> Iterator[Target]:
    port = free_port()
    env = {**os.environ, PACE_VARIABLE: str(pace_ms)}
    with _process([str(binary), "--port", str(port)], port, "/health", env):
        yield Target("straight", port, "/v1/chat/completions", "model")


@contextlib.contextmanager
def runner(binary: Path, home: Path, pace_ms: float) -> Iterator[Target]:
    from compose_models.default_model import default_gguf_path

    env = {**os.environ, "COMPOSE_MODELS_HOME": str(home), "LLAMA_SERVER_PATH": str(binary), PACE_VARIABLE: str(pace_ms)}
    cli = [sys.executable, "-m", "compose_models"]
    subprocess.run([*cli, "package", "--gguf", str(default_gguf_path()), MODEL_TAG], env=env, check=True, capture_output=True)
    port = free_port()
    with _process([*cli, "serve", "--port", str(port)], port, "/engines/status", env) as process:
        yield Target("runner", port, "/engines/v1/chat/completions", MODEL_TAG, process.pid)


@contextlib.contextmanager
def nginx(engine_port: int, directory: Path) -> Iterator[Target]:
    port = free_port()
    config = directory / "nginx.conf"
    config.write_text(f"""
daemon off; master_process off; worker_processes 1; pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {directory}/body; proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi; uwsgi_temp_path {directory}/uwsgi; scgi_temp_path {directory}/scgi;
    upstream engine {{ server 127.0.0.1:{engine_port}; keepalive 16; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://engine; proxy_http_version 1.1; proxy_set_header Connection "";
            proxy_buffering off; proxy_request_buffering off;
        }}
    }}
}}
""")
    with _process(["nginx", "-c", str(config), "-p", str(directory)], port, "/health") as process:
        yield Target("nginx", port, "/v1/chat/completions", "model", process.pid)


# --- the load --------------------------------------------------------------------------------------------

def _request(target: Target, body: dict) -> bytes:
    data = json.dumps({"model": target.model, "messages": [{"role": "user", "content": "Tell a long story."}], **body}).encode()
    return (f"POST {target.path} HTTP/1.0\r\nHost: 127.0.0.1:{target.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n").encode() + data  # fmt: skip


async def _stream(target: Target, tokens: int) -> int:
    """One streamed chat completion read to its end: the content chunks received."""
    reader, writer = await asyncio.open_connection("127.0.0.1", target.port)
    writer.write(_request(target, {"max_tokens": tokens, "stream": True}))
    count, tail = 0, b""
    while data := await reader.read(256 * 1024):
        data = tail + data
        count += data.count(CONTENT_MARK)
        tail = data[-(len(CONTENT_MARK) - 1):]
    writer.close()
    return count


async def measure(target: Target, scenario: str, streams: int, tokens: int) -> float:
    cpu_before = cpu_seconds(target.pid) if target.pid else 0.0
    started = time.perf_counter()
    received = sum(await asyncio.gather(*(_stream(target, tokens) for _ in range(streams))))
    elapsed = time.perf_counter() - started
    if received != streams * tokens:
        raise SystemExit(f"{target.name}: {received} tokens received of {streams * tokens}")
    if target.pid:
        target.cpu[scenario] = target.cpu.get(scenario, 0.0) + cpu_seconds(target.pid) - cpu_before
    target.tokens[scenario] = target.tokens.get(scenario, 0) + received
    return received / elapsed


async def latencies(targets: list[Target], samples: int) -> None:
    """One-token chat requests, to each target in turn, over kept-alive connections."""
    import httpx

    async with httpx.AsyncClient(timeout=60) as client:
        for index in range(samples + 20):
            for target in targets:
                body = {"model": target.model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1}
                started = time.perf_counter()
                (await client.post(f"http://127.0.0.1:{target.port}{target.path}", json=body)).raise_for_status()
                if index >= 20:  # the first ones warm caches and connections
                    target.latencies.append(time.perf_counter() - started)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--paced-streams", type=int, default=8)
    parser.add_argument("--pace-ms", type=float, default=2.0)
    parser.add_argument("--paced-tokens", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-samples", type=int, default=300)
    options = parser.parse_args()
    full, paced = f"{options.streams}x{options.tokens}", f"{options.paced_streams}x{options.paced_tokens} @{options.pace_ms:g}ms"
    with contextlib.ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-relay-")))
        binary = write_stand_in_binary(directory)
        results: dict[str, list[Target]] = {}
        for scenario, pace in ((full, 0.0), (paced, options.pace_ms)):
            with contextlib.ExitStack() as paths:
                home = directory / f"home-{pace:g}"
                targets = [paths.enter_context(straight(binary, pace)), paths.enter_context(runner(binary, home, pace))]
                if shutil.which("nginx"):
                    (directory / f"nginx-{pace:g}").mkdir()
                    targets.append(paths.enter_context(nginx(targets[0].port, directory / f"nginx-{pace:g}")))
                for target in targets:  # warm up: the runner starts its engine, connections open
                    asyncio.run(measure(target, "warm-up", 2, 50))
                for _ in range(options.rounds):
                    for target in targets:
                        streams, tokens = (options.streams, options.tokens) if not pace else (options.paced_streams, options.paced_tokens)
                        target.rate.append(asyncio.run(measure(target, scenario, streams, tokens)))
                if not pace:
                    asyncio.run(latencies(targets, options.latency_samples))
                results[scenario] = targets
    report(results, full, paced, options)


def report(results: dict[str, list[Target]], full: str, paced: str, options: argparse.Namespace) -> None:
    import statistics

    print(f"# {platform.node()}: {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}; {options.rounds} rounds")  # fmt: skip
    if not shutil.which("nginx"):
        print("(nginx is not installed: no reference proxy column; apt-get install nginx-light to add it)")
    targets = results[full]
    base = statistics.median(targets[0].rate)
    print(f"\n| {full} streams x tokens, full speed | tok/s | / straight | proxy CPU µs/token |")
    print("|---|---|---|---|")
    for target in targets:
        rate = statistics.median(target.rate)
        cpu = f"{target.cpu[full] / target.tokens[full] * 1e6:.1f}" if target.pid else "-"
        print(f"| {target.name} | {rate:.0f} | {rate / base:.2f}x | {cpu} |")
    print(f"\n| {paced} | tok/s | proxy CPU µs/token |")
    print("|---|---|---|")
    for target in results[paced]:
        cpu = f"{target.cpu[paced] / target.tokens[paced] * 1e6:.1f}" if target.pid else "-"
        print(f"| {target.name} | {statistics.median(target.rate):.0f} | {cpu} |")
    straight_latency = targets[0].latencies
    print(f"\none-token chat request ({options.latency_samples} per path), added to straight's "
          f"p50 {percentile(straight_latency, 0.5) * 1e3:.2f} ms / p99 {percentile(straight_latency, 0.99) * 1e3:.2f} ms:")  # fmt: skip
    for target in targets[1:]:
        added = [(percentile(target.latencies, q) - percentile(straight_latency, q)) * 1e3 for q in (0.5, 0.99)]
        print(f"  {target.name}: p50 {added[0]:+.2f} ms, p99 {added[1]:+.2f} ms")
    print(f"CPU: utime + stime of the proxy's process (clock tick {1e3 / os.sysconf('SC_CLK_TCK'):.0f} ms) over the "
          "rounds, divided by the tokens relayed")  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1:2] == ["--stand-in-engine"]:
        stand_in_engine(sys.argv[2:])
    else:
        main()
