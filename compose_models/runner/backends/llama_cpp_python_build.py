"""Build the llama-cpp-python wheel once per machine with portable options, into a cache of our own.

pip's wheel cache is keyed by the sdist, not by ``CMAKE_ARGS``: a wheel built natively once (say by a
plain ``pip install llama-cpp-python``) would be handed back for every later install. So the wheel is
built with ``--no-cache-dir`` into ``<cache>/wheels/llama-cpp-python/<version>-<key>/``, the key
covering the build options, and installed from there by path.

Run as ``python -m compose_models.runner.backends.llama_cpp_python_build VERSION`` (from
``scripts/setup.sh``, before the package's dependencies exist): prints the wheel's path. Imports only
the standard library and its sibling modules ``build_flags`` and ``cache``.
"""

import argparse
import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from compose_models.runner.backends.build_flags import accelerator_for_wheel, build_key, ggml_options
from compose_models.runner.backends.cache import cache_dir

PACKAGE = "llama-cpp-python"


def wheel_dir(version: str, options: list[str]) -> Path:
    return cache_dir() / "wheels" / PACKAGE / build_key(version, options)


def cached_wheel(directory: Path) -> Path | None:
    wheels = sorted(directory.glob("llama_cpp_python-*.whl"))
    return wheels[0] if wheels and (directory / "build.json").is_file() else None


def build_wheel(version: str, *, log: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) -> Path:
    """The cached portable wheel for ``version``, built first when missing (one build at a time)."""
    accelerator = accelerator_for_wheel()
    options = ggml_options(accelerator)
    target = wheel_dir(version, options)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(target.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return cached_wheel(target) or _build(version, accelerator, options, target, log)


def _build(version: str, accelerator: str, options: list[str], target: Path, log: Callable[[str], None]) -> Path:
    staging = target.with_name(target.name + ".partial")
    staging.mkdir(parents=True, exist_ok=True)
    for stale in staging.glob("*.whl"):
        stale.unlink()
    log(f"building {PACKAGE} {version} for {accelerator} with {' '.join(options)} (about 5 minutes on 2 cores)")
    environment = {**os.environ, "CMAKE_ARGS": " ".join(options), "FORCE_CMAKE": "1"}
    command = [
        sys.executable, "-m", "pip", "wheel", "--quiet", "--no-cache-dir", "--no-deps",
        "--no-binary", PACKAGE, f"{PACKAGE}=={version}", "-w", str(staging),
    ]  # fmt: skip
    result = subprocess.run(command, env=environment)
    if result.returncode != 0:
        raise SystemExit(f"building {PACKAGE} {version} failed (exit {result.returncode}); see pip's output above")
    (staging / "build.json").write_text(json.dumps({"version": version, "accelerator": accelerator, "cmake_args": options}))
    if target.exists():
        for old in target.iterdir():
            old.unlink()
        target.rmdir()
    os.replace(staging, target)
    built = cached_wheel(target)
    assert built is not None  # pip wrote the wheel, and build.json is beside it
    return built


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version", help=f"the {PACKAGE} version to build")
    print(build_wheel(parser.parse_args().version))


if __name__ == "__main__":
    main()
