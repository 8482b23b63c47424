#!/usr/bin/env bash
# Build llama.cpp's llama-server once per machine into ~/.cache/compose-models/llama-server/<version>/
# (or $COMPOSE_MODELS_CACHE), from the vendor/llama.cpp tree of the installed llama-cpp-python's sdist.
# Idempotent: returns at once when that version is already built. About 5 minutes on 2 cores otherwise.
# Usage: scripts/build-llama-server.sh [extra install-runner options, e.g. --source SDIST --jobs 2]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
exec "$PYTHON" -c '
import sys
from compose_models.cli import backend_verbs, main  # noqa: F401 - registers install-runner
main(["install-runner", "--backend", "llama-server", *sys.argv[1:]])
' "$@"
