"""Whole-process start-up time of the CLI verbs Docker Compose calls, as a user's shell or Compose runs them.

Compose runs the ``docker-model`` plugin on every ``docker compose up``: ``status --json``, ``ls --json``,
then ``configure MODEL ...`` for each model (``ps`` is timed too). Each verb is timed two ways, as
separate processes from start to exit: the ``compose-models`` entry script in the bin directory of
this interpreter (what a user types), and the plugin script ``compose-models install`` writes to
``$DOCKER_CONFIG/cli-plugins/docker-model``, called as Compose calls it (``docker-model VERB``, without
the docker CLI in front). Floors: the bare interpreter, and ``import compose_models.cli`` (the package
only: where ``main()`` imports the verb modules, as on 2026-12-01, that cost is in the verbs' rows).

Everything runs in a temporary ``COMPOSE_MODELS_HOME`` and ``DOCKER_CONFIG`` on a free
``COMPOSE_MODELS_PORT``, against a runner started here (``serve --detach``) with the embedded model
packaged, so ``~/.compose-models`` and ``~/.docker`` are untouched. Each command runs once untimed
(caches, the reach probe's cached route), then ``--runs`` times, all commands in turns.

What ``status --json`` includes besides start-up: asking the Docker engine for its info, version and
bridge network and, when an engine answers, a one-container reach probe of the runner; the plugin
also takes the start lock and checks the runner (``ensure_running``). ``--no-engine`` points
``DOCKER_HOST`` at a socket nobody listens on, leaving start-up and the runner's answers.

Each row gives the wall-clock seconds and the CPU seconds (user + system) of the process: on a shared,
loaded machine the CPU seconds are the steadier measure. ``PYTHONPATH=OTHER_CHECKOUT`` times another
tree's code with the same interpreter (a before/after comparison).

    .venv/bin/python bench/cli_startup.py [--runs 7] [--no-engine]

Exits non-zero when a verb fails.
"""

import argparse
import json
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from compose_models.default_model import default_gguf_path

CONTEXT_SIZE = 4096
MODEL_TAG = "bench/smollm2:135m"
VERBS = (["status", "--json"], ["ls", "--json"], ["ps"], ["configure", MODEL_TAG, "--context-size", str(CONTEXT_SIZE)])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds from start to exit, and the CPU seconds (user + system) the process used; exits this script
    when the command fails. On a loaded machine the CPU seconds are the steadier measure of start-up."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"`{' '.join(argv)}` exited {done.returncode}: {(done.stderr or done.stdout).strip()}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-engine", action="store_true", help="DOCKER_HOST at a socket nobody listens on")
    options = parser.parse_args()
    cli = Path(sys.executable).parent / "compose-models"
    if not cli.is_file():
        raise SystemExit(f"no compose-models entry script beside {sys.executable}: run scripts/setup.sh")
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as scratch:
        env = {**os.environ, "COMPOSE_MODELS_HOME": f"{scratch}/home", "DOCKER_CONFIG": f"{scratch}/docker",
               "COMPOSE_MODELS_PORT": str(free_port())}  # fmt: skip
        if options.no_engine:
            env.pop("DOCKER_CONTEXT", None)
            env["DOCKER_HOST"] = f"unix://{scratch}/no-engine.sock"
        run([str(cli), "package", "--gguf", str(default_gguf_path()), "--context-size", str(CONTEXT_SIZE), MODEL_TAG],
            env)  # fmt: skip
        run([str(cli), "install"], env)
        plugin = f"{scratch}/docker/cli-plugins/docker-model"
        run([str(cli), "serve", "--detach"], env)
        try:
            commands = {
                "python -c pass": [sys.executable, "-c", "pass"],
                "python -c 'import compose_models.cli'": [sys.executable, "-c", "import compose_models.cli"],
            }
            for verb in VERBS:
                commands[f"compose-models {' '.join(verb)}"] = [str(cli), *verb]
                commands[f"docker-model {' '.join(verb)}"] = [plugin, *verb]
            for argv in commands.values():  # warm: page cache, .pyc files, the reach probe's route
                run(argv, env)
            times: dict[str, list[tuple[float, float]]] = {label: [] for label in commands}
            for _ in range(options.runs):
                for label, argv in commands.items():
                    times[label].append(run(argv, env))
            status = json.loads(subprocess.run([str(cli), "status", "--json"], env=env, capture_output=True,
                                               text=True, check=True).stdout)  # fmt: skip
        finally:
            subprocess.run([str(cli), "stop"], env=env, capture_output=True)
    report(times, options.runs, status)


def report(times: dict[str, list[tuple[float, float]]], runs: int, status: dict) -> None:
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"# {platform.node()}: {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, load {load}; "
          f"Python {platform.python_version()}; {runs} runs; Docker engine: {status['kind']}"
          f"{' (status --json probes a container each call)' if status['reach']['probed'] else ''}")  # fmt: skip
    floor = statistics.median(cpu for _, cpu in times["python -c pass"])
    print("| command | median wall (s) | min wall (s) | median CPU (s) | CPU / `python -c pass` |")
    print("|---|---|---|---|---|")
    for label, values in times.items():
        wall, cpu = [wall for wall, _ in values], statistics.median(cpu for _, cpu in values)
        print(f"| `{label}` | {statistics.median(wall):.3f} | {min(wall):.3f} | {cpu:.3f} | {cpu / floor:.1f} |")


if __name__ == "__main__":
    main()
