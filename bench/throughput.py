"""Throughput through the runner against llama.cpp's own server and llama-cpp-python's, in one run.

The runner runs twice: on llama-server and on the batched engine (``COMPOSE_MODELS_LLAMA_BACKEND=batched``,
one slot per stream of the highest concurrency). Same model (the embedded SmolLM2 GGUF), same
context size, same prompt, streamed chat completions of a fixed number of tokens at 1, 2, 4 and 8
concurrent streams; targets are measured in turns so that
noise from a shared machine falls on all of them alike. Then the latency the runner's HTTP front
adds: one-token requests sent alternately to the runner and straight to its llama-server.

    .venv/bin/python bench/throughput.py [--tokens 128] [--rounds 3] [--threads N] [--engines llama-server]

``--engines llama-server`` runs only the runner on llama-server and direct llama-server (minutes, not
tens of minutes); ``all`` (the default) adds the batched runner and llama-cpp-python. ``--engines defaults``
compares the engines the runner may choose by default for a GGUF model, each called directly (no
runner): llama-cpp-python's server, the batched engine (8 slots) and llama-server when it is built,
with each one's ratio to llama-cpp-python's server.

For each runner, the CPU time of its ``compose-models serve`` process (utime + stime from
``/proc/PID/stat``, every thread, not its llama-server children) over the throughput measurements,
divided by the content chunks it streamed back (one per token): what the front costs per token.

``--threads`` gives every engine the same CPU thread count (through the runner as a runtime flag, or
``COMPOSE_MODELS_BATCHED_THREADS`` for the batched engine);
on a machine shared with other work, one thread per engine keeps a busy core from stalling
llama.cpp's thread barrier and so keeps the comparison fair.

Prints ratios; absolute numbers mean little on a shared machine.
"""

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from compose_models.default_model import default_gguf_path
from compose_models.runner.backends import batched, llama_server
from compose_models.runner.backends.process import free_port

CONTEXT_SIZE = 4096
MODEL_TAG = "bench/smollm2:135m"
PROMPT = "Write a long story about a lighthouse keeper who finds a message in a bottle."
CONCURRENCY = (1, 2, 4, 8)


@dataclass
class Target:
    name: str
    url: str  # OpenAI base, ending in /v1
    model: str
    pid: int | None = None  # the runner's own process, whose CPU time is measured; None for a direct engine
    headers: dict[str, str] = field(default_factory=dict)  # what every request carries (an engine's key)
    rates: dict[int, list[float]] = field(default_factory=dict)  # streams -> total tokens/s per round
    first_tokens: dict[int, list[float]] = field(default_factory=dict)  # streams -> seconds
    cpu_seconds: dict[int, float] = field(default_factory=dict)  # streams -> runner CPU summed over rounds
    tokens: dict[int, int] = field(default_factory=dict)  # streams -> tokens received summed over rounds


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (all its threads, none of its children) from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()  # the name may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_ready(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server for {url} exited")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"{url} was not ready after {timeout}s")


@contextlib.contextmanager
def _process(argv: list[str], ready_url: str, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen]:
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        _wait_ready(ready_url, process)
        yield process
    finally:
        process.terminate()
        process.wait(30)


@contextlib.contextmanager
def direct_llama_server(binary: Path, gguf: Path, threads: int | None) -> Iterator[Target]:
    port = free_port()
    argv = [str(binary), "--model", str(gguf), "--port", str(port), "--ctx-size", str(CONTEXT_SIZE),
            "--n-gpu-layers", "999", "--jinja"]  # fmt: skip
    if threads:
        argv += ["--threads", str(threads)]
    with _process(argv, f"http://127.0.0.1:{port}/health", llama_server.clean_environment()):
        yield Target("llama-server", f"http://127.0.0.1:{port}/v1", "model")


@contextlib.contextmanager
def direct_llama_cpp_python(gguf: Path, threads: int | None) -> Iterator[Target]:
    port = free_port()
    argv = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--port", str(port),
            "--n_ctx", str(CONTEXT_SIZE), "--n_gpu_layers", "-1", "--interrupt_requests", "false",
            "--verbose", "false"]  # fmt: skip
    if threads:
        argv += ["--n_threads", str(threads), "--n_threads_batch", str(threads)]
    with _process(argv, f"http://127.0.0.1:{port}/v1/models"):
        yield Target("llama-cpp-python", f"http://127.0.0.1:{port}/v1", "model")


@contextlib.contextmanager
def direct_batched(gguf: Path, threads: int | None) -> Iterator[Target]:
    port, key = free_port(), "bench"
    argv = [sys.executable, "-m", "compose_models.runner.backends.batched.server", "--model", str(gguf),
            "--alias", "model", "--port", str(port), "--context-size", str(CONTEXT_SIZE),
            "--slots", str(max(CONCURRENCY))]  # fmt: skip
    if threads:
        argv += ["--threads", str(threads)]
    with _process(argv, f"http://127.0.0.1:{port}/health", {**os.environ, batched.KEY_VARIABLE: key}):
        yield Target("batched", f"http://127.0.0.1:{port}/v1", "model", headers={"Authorization": f"Bearer {key}"})


@contextlib.contextmanager
def runner(gguf: Path, home: Path, threads: int | None, backend: str) -> Iterator[Target]:
    env = {**os.environ, "COMPOSE_MODELS_HOME": str(home), "COMPOSE_MODELS_LLAMA_BACKEND": backend,
           batched.SLOTS_VARIABLE: str(max(CONCURRENCY))}  # fmt: skip
    if threads:
        env[batched.THREADS_VARIABLE] = str(threads)
    cli = [sys.executable, "-m", "compose_models"]
    subprocess.run([*cli, "package", "--gguf", str(gguf), "--context-size", str(CONTEXT_SIZE), MODEL_TAG],
                   env=env, check=True, capture_output=True)  # fmt: skip
    port = free_port()
    with _process([*cli, "serve", "--port", str(port)], f"http://127.0.0.1:{port}/engines/status", env) as process:
        if threads:
            subprocess.run([*cli, "configure", MODEL_TAG, "--", "--threads", str(threads)], env=env, check=True)
        yield Target(f"runner ({backend})", f"http://127.0.0.1:{port}/engines/v1", MODEL_TAG, process.pid)


async def _stream(client: httpx.AsyncClient, target: Target, tokens: int) -> tuple[int, float]:
    """One streamed chat completion: (content chunks received, seconds to the first one)."""
    body = {"model": target.model, "messages": [{"role": "user", "content": PROMPT}], "max_tokens": tokens,
            "temperature": 0, "stream": True, "ignore_eos": True}  # fmt: skip
    started = time.perf_counter()
    first = None
    count = 0
    async with client.stream("POST", f"{target.url}/chat/completions", json=body, headers=target.headers) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            choices = json.loads(line[6:]).get("choices") or [{}]
            if choices[0].get("delta", {}).get("content"):
                count += 1
                first = first if first is not None else time.perf_counter() - started
    return count, first if first is not None else float("nan")


async def measure_streams(target: Target, streams: int, tokens: int) -> None:
    async with httpx.AsyncClient(timeout=300) as client:
        cpu_before = cpu_seconds(target.pid) if target.pid else 0.0
        started = time.perf_counter()
        results = await asyncio.gather(*(_stream(client, target, tokens) for _ in range(streams)))
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(target.pid) - cpu_before if target.pid else 0.0
    received = sum(count for count, _ in results)
    target.rates.setdefault(streams, []).append(received / elapsed)
    target.first_tokens.setdefault(streams, []).extend(first for _, first in results)
    # Summed over rounds rather than a median per round: a clock tick (10 ms) is a large part of one round.
    target.cpu_seconds[streams] = target.cpu_seconds.get(streams, 0.0) + cpu
    target.tokens[streams] = target.tokens.get(streams, 0) + received


async def added_latency(front: Target, engine_url: str, samples: int) -> tuple[float, float]:
    """p50 and p99 of (through the runner − straight to its engine) for one-token requests, in ms."""
    body = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1, "temperature": 0}
    direct_times, front_times = [], []
    async with httpx.AsyncClient(timeout=60) as client:
        for index in range(samples + 10):
            for url, model, times in ((engine_url, "model", direct_times), (front.url, front.model, front_times)):
                started = time.perf_counter()
                (await client.post(f"{url}/chat/completions", json={**body, "model": model})).raise_for_status()
                if index >= 10:  # the first ones warm caches
                    times.append(time.perf_counter() - started)
    direct_times.sort()
    front_times.sort()

    def percentile(values: list[float], fraction: float) -> float:
        return values[min(len(values) - 1, int(fraction * len(values)))]

    return tuple(  # type: ignore[return-value]
        (percentile(front_times, q) - percentile(direct_times, q)) * 1000 for q in (0.50, 0.99)
    )


def runner_engine_url(front: Target) -> str:
    """The runner's own llama-server, from its process list (the one child serving the model)."""
    status = httpx.get(front.url.replace("/engines/v1", "/engines/ps")).json()
    assert status, "the runner has no engine loaded"
    for line in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout.splitlines():
        if "llama-server" in line and "--alias" in line and MODEL_TAG in line:
            arguments = line.split()
            return f"http://127.0.0.1:{arguments[arguments.index('--port') + 1]}/v1"
    raise SystemExit("cannot find the runner's llama-server")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument("--threads", type=int, help="CPU threads of every engine (default: each engine's own)")
    parser.add_argument("--engines", choices=("all", "llama-server", "defaults"), default="all",
                        help="llama-server: only the runner on llama-server and direct llama-server; "
                        "defaults: the engines a GGUF model may get by default, direct")  # fmt: skip
    options = parser.parse_args()
    binary = llama_server.find_binary()
    if options.engines == "defaults":
        default_choices(binary, options)
        return
    if binary is None:
        raise SystemExit("llama-server is not built: run scripts/build-llama-server.sh")
    gguf = default_gguf_path()
    with contextlib.ExitStack() as stack:
        backends = [llama_server.NAME] + ([batched.NAME] if options.engines == "all" else [])
        homes = [Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-home-"))) for _ in backends]
        targets = [
            stack.enter_context(runner(gguf, home, options.threads, backend)) for home, backend in zip(homes, backends)
        ]
        targets.append(stack.enter_context(direct_llama_server(binary, gguf, options.threads)))
        if options.engines == "all":
            targets.append(stack.enter_context(direct_llama_cpp_python(gguf, options.threads)))
        for target in targets:  # warm up: load, first-request allocations
            asyncio.run(measure_streams(target, 1, 8))
            for measured in (target.rates, target.first_tokens, target.cpu_seconds, target.tokens):
                measured.clear()
        for streams in CONCURRENCY:
            for _ in range(options.rounds):
                for target in targets:
                    asyncio.run(measure_streams(target, streams, options.tokens))
        p50, p99 = asyncio.run(added_latency(targets[0], runner_engine_url(targets[0]), options.latency_samples))
    report(targets, options, llama_server.describe(binary).version, p50, p99)


def default_choices(binary: Path | None, options: argparse.Namespace) -> None:
    """llama-cpp-python's server, the batched engine and llama-server (when built), direct, in turns."""
    gguf = default_gguf_path()
    with contextlib.ExitStack() as stack:
        targets = [stack.enter_context(direct_llama_cpp_python(gguf, options.threads)),
                   stack.enter_context(direct_batched(gguf, options.threads))]  # fmt: skip
        if binary is not None:
            targets.append(stack.enter_context(direct_llama_server(binary, gguf, options.threads)))
        for target in targets:  # warm up: first-request allocations
            asyncio.run(measure_streams(target, 1, 8))
            target.rates.clear()
            target.first_tokens.clear()
        for streams in CONCURRENCY:
            for _ in range(options.rounds):
                for target in targets:
                    asyncio.run(measure_streams(target, streams, options.tokens))
    base = targets[0]
    version = llama_server.describe(binary).version if binary else "not built"
    print(f"# {platform.node()}: {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs; "
          f"llama-server {version}; SmolLM2-135M Q4_1, {options.tokens} tokens, {options.rounds} rounds, "
          f"context {CONTEXT_SIZE}, threads {options.threads or 'default'}, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    others = targets[1:]
    print("| streams | " + " | ".join(f"{target.name} tok/s" for target in targets)
          + "".join(f" | {target.name} / {base.name}" for target in others)
          + " | TTFT p50 " + " / ".join(target.name for target in targets) + " (ms) |")  # fmt: skip
    print("|---" * (len(targets) + len(others) + 2) + "|")
    for streams in CONCURRENCY:
        rate = {target.name: statistics.median(target.rates[streams]) for target in targets}
        ttft = {target.name: statistics.median(target.first_tokens[streams]) * 1000 for target in targets}
        print(f"| {streams} | " + " | ".join(f"{rate[target.name]:.1f}" for target in targets)
              + "".join(f" | {rate[target.name] / rate[base.name]:.2f}" for target in others)
              + " | " + " / ".join(f"{ttft[target.name]:.0f}" for target in targets) + " |")  # fmt: skip


def report(targets: list[Target], options: argparse.Namespace, version: str, p50: float, p99: float) -> None:
    server = next(target for target in targets if target.name == "llama-server")
    runners = [target for target in targets if target.pid]
    print(f"# {platform.node()}: {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs; "
          f"llama-server {version}; SmolLM2-135M Q4_1, {options.tokens} tokens, {options.rounds} rounds, "
          f"context {CONTEXT_SIZE}, threads {options.threads or 'default'}, engines {options.engines}")  # fmt: skip
    print("| streams | " + " | ".join(f"{target.name} tok/s" for target in targets)
          + "".join(f" | {front.name} / llama-server" for front in runners)
          + "".join(f" | {front.name} CPU µs/token" for front in runners)
          + " | TTFT p50 " + " / ".join(target.name for target in targets) + " (ms) |")  # fmt: skip
    print("|---" * (len(targets) + 2 * len(runners) + 2) + "|")
    for streams in CONCURRENCY:
        rate = {target.name: statistics.median(target.rates[streams]) for target in targets}
        ttft = {target.name: statistics.median(target.first_tokens[streams]) * 1000 for target in targets}
        print(f"| {streams} | " + " | ".join(f"{rate[target.name]:.1f}" for target in targets)
              + "".join(f" | {rate[front.name] / rate[server.name]:.2f}" for front in runners)
              + "".join(f" | {front.cpu_seconds[streams] / front.tokens[streams] * 1e6:.0f}" for front in runners)
              + " | " + " / ".join(f"{ttft[target.name]:.1f}" for target in targets) + " |")  # fmt: skip
    print(f"\nadded latency of the runner's HTTP front (one-token requests, {options.latency_samples} pairs): "
          f"p50 {p50:+.2f} ms, p99 {p99:+.2f} ms")  # fmt: skip
    print(f"runner CPU: utime + stime of its own process (clock tick {1e3 / os.sysconf('SC_CLK_TCK'):.0f} ms) "
          "over all rounds at that concurrency, divided by the tokens received")


if __name__ == "__main__":
    main()
