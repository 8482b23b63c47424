#!/usr/bin/env bash
# The test command: set up (venv, Docker engine, Compose v2, the model), run the static checks
# (scripts/check.sh) and the whole suite, tear down.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# Lint, layering and types first: seconds, and a failure here fails CI before the half hour of tests.
./scripts/check.sh
trap ./scripts/teardown.sh EXIT
# The tests exercise both engines: llama.cpp's own llama-server is built once per machine (cached).
./scripts/build-llama-server.sh
.venv/bin/python -m pytest "$@"
