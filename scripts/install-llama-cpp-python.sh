#!/usr/bin/env bash
# Install llama-cpp-python into a venv from our own wheel cache, built there first with portable options.
# pip's wheel cache is keyed by the sdist, not by CMAKE_ARGS: a wheel built natively once (by any plain
# `pip install llama-cpp-python`) would be handed back and crash on another CPU, so it is never consulted.
# Usage: scripts/install-llama-cpp-python.sh VENV   (the venv must already hold compose-models, --no-deps)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$1
version=$("$venv/bin/python" -c 'import re, tomllib; deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]; print(next(re.search(r"==\s*([^\s,;]+)", d)[1] for d in deps if d.startswith("llama-cpp-python")))')
wheel=$(PATH="$venv/bin:$PATH" "$venv/bin/python" -m compose_models.runner.backends.llama_cpp_python_build "$version")
if [ "$(cat "$venv/llama-cpp-python-wheel" 2>/dev/null)" != "$wheel" ]; then
    "$venv/bin/pip" install -q --no-cache-dir --force-reinstall --no-deps "$wheel"
    echo "$wheel" >"$venv/llama-cpp-python-wheel"
fi
