"""A stand-in for llama-server that fails on purpose, set as ``LLAMA_SERVER_PATH``.

A real engine crashes only on a CPU or build that makes it crash, which the test machine cannot be
asked for. The stand-in is otherwise what the runner expects of llama-server: it takes llama-server's
flags, answers ``/health`` on ``--port`` and writes to its log. Each start as the runner's engine (the
runner names the model with ``--alias``) appends a line to a file, so a test can count the engine starts:
its pid and the signal it gets when its parent dies (Linux's PDEATHSIG; 0 for none, -1 elsewhere).

Started without ``--alias`` it is being smoke-tested (``runner/backends/smoke_test.py``): then it
answers llama.cpp's ``/completion`` with one token as a working build does, except in the
``fail-smoke-test`` behaviour, a build that dies with SIGILL at its first matrix multiply whatever
the model.

``--list-devices`` prints the device list it was written with: none (a CPU build) by default, or
``METAL_DEVICES``, what Homebrew's Metal llama-server prints on a 16 GB Mac with Apple silicon, which
no machine here can run.
"""

import stat
import sys
from pathlib import Path

CRASH_ON_FIRST_ANSWER = "crash-on-first-answer"  # healthy, then a real SIGSEGV at the first request
EXIT_AT_ONCE = "exit-at-once"  # exits with status 1 before it listens
FAIL_SMOKE_TEST = "fail-smoke-test"  # healthy, then SIGILL at the first request, the smoke test's included
LOG_LINE = "stand-in llama-server: answering {path} with a segfault, on purpose"
# `llama-server --list-devices` of a Metal build on an M2 with 16 GB: Metal's working set is 10922 MiB.
METAL_DEVICES = "Available devices:\n  MTL0: Apple M2 (10922 MiB, 10922 MiB free)\n"
METAL_WORKING_SET = 10922 * 1024 * 1024
CPU_DEVICES = "Available devices:\n  (none)\n"

_SCRIPT = '''#!{python}
"""A stand-in for llama-server ({behaviour}), written by tests/stand_in_llama_server.py."""
import ctypes, http.server, os, resource, signal, sys

arguments = sys.argv[1:]
if "--version" in arguments:  # what `status` asks of the binary
    print("version: 0 (stand-in)")
    sys.exit(0)
if "--list-devices" in arguments:  # counted in the file `listings`, next to `starts`
    with open({listings!r}, "a") as listings:
        listings.write("listed\\n")
    print({devices!r}, end="")
    sys.exit(0)
as_engine = "--alias" in arguments
if as_engine:
    death_signal = ctypes.c_int(-1)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(2, ctypes.byref(death_signal))  # PR_GET_PDEATHSIG
    with open({starts!r}, "a") as starts:
        starts.write(f"{{os.getpid()}} {{death_signal.value}}\\n")
if {behaviour!r} == "exit-at-once" and as_engine:
    print("stand-in llama-server: exiting at once, on purpose", file=sys.stderr, flush=True)
    sys.exit(1)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path in ("/health", "/v1/models") else 404)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b'{{"status": "ok"}}')

    def do_POST(self):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file
        if {behaviour!r} == "fail-smoke-test":
            print("stand-in llama-server: an illegal instruction, on purpose", file=sys.stderr, flush=True)
            os.kill(os.getpid(), signal.SIGILL)
        if not as_engine and self.path == "/completion":
            body = b'{{"content": "a", "tokens": [1]}}'
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        print({log_line!r}.format(path=self.path), file=sys.stderr, flush=True)
        ctypes.string_at(0)  # a real segmentation fault

    def log_message(self, *_):
        pass


port = int(arguments[arguments.index("--port") + 1])
print(f"stand-in llama-server: listening on 127.0.0.1:{{port}}", file=sys.stderr, flush=True)
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
'''


def write_stand_in(directory: Path, behaviour: str, devices: str = CPU_DEVICES) -> tuple[Path, Path]:
    """An executable stand-in in ``directory`` and the file each of its starts appends a line to;
    ``devices`` is what its ``--list-devices`` prints."""
    directory.mkdir(parents=True, exist_ok=True)
    starts = directory / "starts"
    starts.touch()
    binary = directory / "llama-server"
    script = _SCRIPT.format(
        python=sys.executable, behaviour=behaviour, starts=str(starts), log_line=LOG_LINE, devices=devices,
        listings=str(directory / "listings"),
    )  # fmt: skip
    binary.write_text(script)
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return binary, starts


def start_count(starts: Path) -> int:
    return len(starts.read_text().splitlines())


def engine_starts(starts: Path) -> list[tuple[int, int]]:
    """Each start as an engine: its pid and its death signal (Linux's PDEATHSIG: 0 for none; -1 elsewhere)."""
    return [(int(pid), int(signal)) for pid, signal in (line.split() for line in starts.read_text().splitlines())]

