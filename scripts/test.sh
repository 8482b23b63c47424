#!/usr/bin/env bash
# The test command: set up (venv, Docker engine, Compose v2, the model), run the whole suite, tear down.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
trap ./scripts/teardown.sh EXIT
.venv/bin/python -m pytest "$@"
