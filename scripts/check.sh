#!/usr/bin/env bash
# The static checks CI runs before the tests, each failing it: lint (ruff check; no formatter is run),
# the layering of docs/architecture.md (lint-imports, contracts in pyproject.toml), and types (mypy:
# strict on the runner and the store, default elsewhere). Run from anywhere: scripts/check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
status=0
run() {
    echo "check: $*" >&2
    "$@" || { echo "check: FAILED: $*" >&2; status=1; }
}
run "$bin/ruff" check compose_models tests bench fuzz scripts
# lint-imports and mypy read the package from this checkout, not from wherever it is installed
run env PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" "$bin/lint-imports" --no-cache
run env PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" "$bin/mypy"
exit $status
