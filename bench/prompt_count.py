"""What counting an Anthropic request's prompt costs before it is answered, on llama-server with the embedded
SmolLM2 model: the one-token request the runner used to send (and still sends to other engines) against
``/apply-template`` and ``/tokenize``, each followed by the request itself, as the runner sends them.

    .venv/bin/python bench/prompt_count.py [--rounds 40] [--max-tokens 16] [--turns 6]

llama-server is started as the runner starts it (``--jinja``); each request on a new connection (llama-server
closes idle ones). Every round has a prompt of its
own (so no round reuses another's cache) and runs both ways, in alternating order. Prints the median ms of the
count alone and of count plus answer, each way, the ms saved per request and the ratio after/before, and
checks that both counts agree with the engine's own count of the request.
"""

import argparse
import contextlib
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from compose_models.default_model import default_gguf_path
from compose_models.runner.backends.llama_server import find_binary


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _llama_server(binary: Path, model: Path) -> Iterator[str]:
    port = _free_port()
    argv = [str(binary), "--model", str(model), "--host", "127.0.0.1", "--port", str(port), "--ctx-size", "4096", "--jinja"]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            sys.exit("llama-server did not become healthy within 120 s")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def _probe(http: httpx.Client, base: str, payload: dict) -> int:
    answer = http.post(f"{base}/v1/chat/completions", json={**payload, "max_tokens": 1, "n": 1}).json()
    return int(answer["usage"]["prompt_tokens"])


def _tokenized(http: httpx.Client, base: str, payload: dict) -> int:
    prompt = http.post(f"{base}/apply-template", json=payload).json()["prompt"]
    tokens = http.post(f"{base}/tokenize", json={"content": prompt, "add_special": True, "parse_special": True}).json()
    return len(tokens["tokens"])


def _answer(http: httpx.Client, base: str, payload: dict) -> int:
    """The streamed answer read to its end; the engine's own count of the prompt."""
    body = {**payload, "stream": True, "stream_options": {"include_usage": True}}
    prompt = 0
    with http.stream("POST", f"{base}/v1/chat/completions", json=body) as response:
        for line in response.iter_lines():
            if '"prompt_tokens":' in line:
                prompt = int(line.split('"prompt_tokens":')[1].split(",")[0].split("}")[0])
    return prompt


def _timed(count: Callable[[httpx.Client, str, dict], int], http: httpx.Client, base: str, payload: dict) -> tuple[float, float]:
    started = time.perf_counter()
    counted = count(http, base, payload)
    counted_at = time.perf_counter()
    engine = _answer(http, base, payload)
    done = time.perf_counter()
    if counted != engine:
        sys.exit(f"{count.__name__} counted {counted} tokens, the engine {engine}: not exact")
    return (counted_at - started) * 1000, (done - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--turns", type=int, default=6, help="user/assistant turns in each prompt")
    arguments = parser.parse_args()
    binary = find_binary()
    if binary is None:
        sys.exit("no llama-server: run scripts/setup.sh")
    ways = {"before (one-token request)": _probe, "after (/apply-template + /tokenize)": _tokenized}
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
    with _llama_server(binary, default_gguf_path()) as base, httpx.Client(timeout=120, limits=httpx.Limits(max_keepalive_connections=0)) as http:
        for round_ in range(arguments.rounds):
            order = list(ways.items()) if round_ % 2 == 0 else list(reversed(ways.items()))
            for name, count in order:
                turns = [{"role": role, "content": f"Round {round_} of {name}, turn {turn}: tell me about the sea."}
                         for turn in range(arguments.turns) for role in ("user", "assistant")][:-1]  # fmt: skip
                payload = {"messages": [{"role": "system", "content": "Be brief."}, *turns],
                           "max_tokens": arguments.max_tokens, "temperature": 0}  # fmt: skip
                times[name].append(_timed(count, http, base, payload))
    medians = {name: (statistics.median(c for c, _ in samples), statistics.median(t for _, t in samples))
               for name, samples in times.items()}  # fmt: skip
    for name, (count_ms, total_ms) in medians.items():
        print(f"{name:38} count {count_ms:7.1f} ms   count + answer {total_ms:7.1f} ms")
    (before_count, before_total), (after_count, after_total) = medians.values()
    print(f"saved per request: {before_total - after_total:.1f} ms of {before_total:.1f} ms "
          f"(after/before {after_total / before_total:.2f}; the count alone {after_count / before_count:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
