"""Pull throughput of one large model artifact: `compose-models pull` against `skopeo copy`, same run.

Writes a GGUF of --size-mb (valid header, random int8 tensors), packages it, pushes it to a
`docker-registry` started on a loopback port, then alternates fresh pulls by both tools and prints
MB/s for each run, the medians and their ratio (goal: >= 0.9 of skopeo). Both are timed as the
commands a user runs, start-up included, each into an empty destination (our pull also verifies
every digest and fsyncs the blob before it names it).

    .venv/bin/python bench/pull.py [--size-mb 512] [--repetitions 3]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from gguf import GGUFWriter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from compose_models.store import ModelStore, package_gguf
from compose_models.store.push import push_model
from tests.integration.store.local_registry import running_registry

TENSOR_BYTES = 64 << 20
MB = 1_000_000


def write_large_gguf(path: Path, size_mb: int) -> Path:
    writer = GGUFWriter(str(path), "llama")
    writer.add_name("pull benchmark model")
    writer.add_context_length(4096)
    random = np.random.default_rng(0)
    remaining = size_mb * MB
    index = 0
    while remaining > 0:
        count = min(TENSOR_BYTES, remaining)
        writer.add_tensor(f"blk.{index}.weight", random.integers(-128, 128, size=count, dtype=np.int8))
        remaining -= count
        index += 1
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def time_ours(reference: str, destination: Path) -> float:
    environment = {**os.environ, "COMPOSE_MODELS_HOME": str(destination)}
    command = [sys.executable, "-m", "compose_models", "pull", reference]
    return _timed(command, environment)


def time_skopeo(reference: str, destination: Path) -> float:
    command = ["skopeo", "copy", "--quiet", "--src-tls-verify=false", f"docker://{reference}", f"dir:{destination}"]
    return _timed(command, dict(os.environ))


def _timed(command: list[str], environment: dict[str, str]) -> float:
    os.sync()  # so neither tool pays for writing back the other's files
    started = time.perf_counter()
    subprocess.run(command, env=environment, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=512, help="size of the GGUF to pull (at least 500)")
    parser.add_argument("--repetitions", type=int, default=3, help="pulls by each tool, alternating")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pull-") as scratch:
        work = Path(scratch)
        (work / "registry").mkdir()
        with running_registry(work / "registry") as registry:
            reference = f"{registry}/bench/large:v1"
            store = ModelStore(work / "source")
            model = package_gguf(store, write_large_gguf(work / "large.gguf", arguments.size_mb), reference)
            push_model(store, reference)
            total_bytes = model.size + len(model.raw_config) + len(store.raw_manifest(model.id))
            print(f"artifact: {total_bytes / MB:.1f} MB in {len(model.layers)} layer(s), {model.id[:19]}")
            speeds: dict[str, list[float]] = {"compose-models pull": [], "skopeo copy": []}
            for repetition in range(arguments.repetitions):
                runs = [("compose-models pull", time_ours), ("skopeo copy", time_skopeo)]
                for name, pull in runs if repetition % 2 == 0 else runs[::-1]:
                    destination = work / "destination"
                    seconds = pull(reference, destination)
                    shutil.rmtree(destination)
                    speeds[name].append(total_bytes / MB / seconds)
                    print(f"  run {repetition + 1}  {name:<20} {seconds:6.2f} s  {speeds[name][-1]:7.1f} MB/s")
    medians = {name: statistics.median(values) for name, values in speeds.items()}
    for name, median in medians.items():
        print(f"median {name:<20} {median:7.1f} MB/s")
    print(f"ratio compose-models / skopeo: {medians['compose-models pull'] / medians['skopeo copy']:.2f} (goal >= 0.90)")


if __name__ == "__main__":
    main()
