#!/usr/bin/env bash
# Stop what scripts/setup.sh started (only that).
cd "$(dirname "$0")/.."
if [ -f .cache/started-dockerd ]; then
    kill "$(cat .cache/started-dockerd)" 2>/dev/null || true
    rm -f .cache/started-dockerd
fi
