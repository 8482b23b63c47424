#!/usr/bin/env bash
# What scripts/setup.sh needs from this machine, checked before it spends minutes building, so a missing
# part fails at once and says what to install. Checks, in this order:
#   xcode    (macOS) the Xcode command-line tools: the compiler llama.cpp is built with, and what
#            /usr/bin/python3 runs on;
#   python   Python 3.11 or newer for .venv: $COMPOSE_MODELS_PYTHON if set, else python3. Once .venv
#            exists, its own python is the one checked. (The Xcode tools' python3 is 3.9.)
#   compose  Docker Compose v2, found as compose-models finds it (compose_models/orchestrator/docker_compose.py):
#            `docker compose`, else a standalone `docker-compose` v2 such as Homebrew's;
#   engine   a Docker engine that answers `docker info`; Rancher Desktop running containerd, which has
#            no Docker API, gets its own message.
# By default compose and engine are checked only off Linux, and not with COMPOSE_MODELS_SETUP_NO_DOCKER=1
# (CI without Docker): on Linux setup installs and starts the engine itself, takes Compose from PyPI on
# x86-64, and elsewhere runs `preflight.sh compose` once its engine is up.
# Usage: scripts/preflight.sh [CHECK...]   (no CHECK: every check that applies to this machine)
# Prints one line per check that passed; exits 1 after printing every failed check and its fix.
# Written for bash 3.2 (macOS's /bin/bash): no associative arrays, no ${var,,}, no empty "${array[@]}".
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
repo=$PWD

failures=0
fail() {
    echo "preflight: $*" >&2
    failures=$((failures + 1))
}
passed() {
    echo "preflight: $*"
}

os=$(uname -s)

# "3.12.4" from `python --version` ("Python 3.12.4"); empty when it does not say.
python_version() {
    local said
    said=$("$1" --version 2>&1) || return 1
    said=${said#Python }
    case "$said" in
        [0-9]*.[0-9]*) echo "${said%%[!0-9.]*}" ;;
        *) return 1 ;;
    esac
}

# True when a version such as 3.12.4 is 3.11 or newer.
new_enough() {
    local major minor rest
    major=${1%%.*}
    rest=${1#*.}
    minor=${rest%%.*}
    [ "$major" -gt 3 ] || { [ "$major" -eq 3 ] && [ "$minor" -ge 11 ]; }
}

# The interpreter setup would use: .venv's once it exists, else $COMPOSE_MODELS_PYTHON, else python3.
chosen_python() {
    if [ -x .venv/bin/python ]; then
        echo .venv/bin/python
    else
        echo "${COMPOSE_MODELS_PYTHON:-python3}"
    fi
}

# A Python 3.11+ on PATH other than the one chosen, for the message: python3.14 down to python3.11.
other_python() {
    local candidate version
    for candidate in python3.14 python3.13 python3.12 python3.11; do
        if command -v "$candidate" >/dev/null 2>&1 && version=$(python_version "$candidate") && new_enough "$version"; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

install_python_hint() {
    local other
    if other=$(other_python); then
        echo "$other is on PATH ($(command -v "$other")): run COMPOSE_MODELS_PYTHON=$other ./scripts/setup.sh"
    elif [ "$os" = Darwin ]; then
        echo "install one with \`brew install python@3.12\`, then run COMPOSE_MODELS_PYTHON=python3.12 ./scripts/setup.sh"
    else
        echo "install one (your distribution's python3.11 or newer with its venv module, or pyenv), then run COMPOSE_MODELS_PYTHON=<that python> ./scripts/setup.sh"
    fi
}

check_xcode() {
    local tools
    if tools=$(xcode-select -p 2>/dev/null) && [ -d "$tools" ]; then
        passed "Xcode command-line tools at $tools"
    else
        fail "the Xcode command-line tools are not installed (\`xcode-select -p\` failed); they hold the compiler llama.cpp is built with. Run \`xcode-select --install\`, then this again"
    fi
}

check_python() {
    local python found version
    python=$(chosen_python)
    if ! found=$(command -v "$python" 2>/dev/null); then
        fail "no $python on PATH: compose-models needs Python 3.11 or newer; $(install_python_hint)"
        return
    fi
    if ! version=$(python_version "$python"); then
        # /usr/bin/python3 on a Mac without the Xcode tools is a stub that asks to install them and fails.
        local said
        said=$("$python" --version 2>&1)
        fail "$found did not say its version (\`$python --version\`: ${said%%$'\n'*}); compose-models needs Python 3.11 or newer; $(install_python_hint)"
        return
    fi
    if new_enough "$version"; then
        passed "Python $version ($found)"
        return
    fi
    if [ "$python" = .venv/bin/python ]; then
        fail ".venv was made with Python $version; compose-models needs 3.11 or newer: remove it (rm -rf .venv) and run setup again with a newer Python; $(install_python_hint)"
        return
    fi
    local which=""
    [ "$os" = Darwin ] && [ "$found" = /usr/bin/python3 ] && which=" (the Xcode command-line tools' python3)"
    fail "$found is Python $version$which; compose-models needs Python 3.11 or newer; $(install_python_hint)"
}

check_compose() {
    local standalone version
    if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
        passed "Docker Compose: \`docker compose\` ($(docker compose version --short 2>/dev/null))"
        return
    fi
    if standalone=$(command -v docker-compose 2>/dev/null); then
        version=$(docker-compose version --short 2>/dev/null)
        case "$version" in
            "") fail "$standalone did not run (\`docker-compose version --short\` failed); compose-models needs Docker Compose v2: \`brew install docker-compose\`" ;;
            1.* | v1.*) fail "$standalone is Docker Compose $version (v1); compose-models needs v2: \`brew install docker-compose\`, or the Compose of Docker Desktop or OrbStack" ;;
            *) passed "Docker Compose: standalone $standalone ($version)" ;;
        esac
        return
    fi
    fail "Docker Compose v2 was not found: neither \`docker compose\` nor a \`docker-compose\` on PATH. Docker Desktop and OrbStack ship it; else \`brew install docker-compose\` (compose-models runs the standalone binary as it is)"
}

# Rancher Desktop's own message when it is why no engine answers (compose_models/docker_host.py decides).
rancher_problem() {
    local python version
    python=$(chosen_python)
    command -v "$python" >/dev/null 2>&1 || return 0
    version=$(python_version "$python") && new_enough "$version" || return 0
    PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" "$python" -c '
from compose_models.docker_host import RANCHER_MOBY_FIX, locate_engine, rancher_containerd_problem
problem = rancher_containerd_problem(locate_engine())
if problem:
    print(f"{problem}\nfix: {RANCHER_MOBY_FIX}")
' 2>/dev/null
}

check_engine() {
    local rancher
    if ! command -v docker >/dev/null 2>&1; then
        fail "the Docker CLI is not on PATH: install your engine (Docker Desktop, OrbStack, Rancher Desktop), or \`brew install docker\` with colima or Podman"
        return
    fi
    if docker info >/dev/null 2>&1; then
        passed "a Docker engine answers"
        return
    fi
    rancher=$(rancher_problem)
    if [ -n "$rancher" ]; then
        fail "$rancher"
    else
        fail "no Docker engine answers (\`docker info\` failed); start yours (Docker Desktop, OrbStack, \`colima start\`, Rancher Desktop, \`podman machine start\`), or point DOCKER_HOST or \`docker context use\` at it, and run this again"
    fi
}

if [ $# -eq 0 ]; then
    checks=python
    [ "$os" = Darwin ] && checks="xcode python"
    # On Linux setup installs and starts the engine itself, and checks Compose after that.
    if [ "${COMPOSE_MODELS_SETUP_NO_DOCKER:-}" != 1 ] && [ "$os" != Linux ]; then
        checks="$checks compose engine"
    fi
    set -- $checks
fi
for check in "$@"; do
    case "$check" in
        xcode | python | compose | engine) "check_$check" ;;
        *)
            echo "preflight: unknown check $check (checks: xcode python compose engine)" >&2
            exit 2
            ;;
    esac
done
if [ "$failures" -gt 0 ]; then
    exit 1
fi
