#!/usr/bin/env bash
# The Python base image the stack templates' tests build their applications on (compose-models init).
# No image can be pulled on the test machines, so python:3.12-slim is not available: this builds a Debian
# rootfs with `debootstrap --variant=minbase` (python3, pip), imports it into Docker and installs the
# templates' SDK wheels into it from this machine's pip. The templates' Dockerfiles take it as
# `--build-arg PYTHON_IMAGE=...`; their `pip install -r requirements.txt` then finds everything installed.
# Built once per machine: the tag is keyed by this script. Prints the tag on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
key=$(sha256sum scripts/base-image.sh | cut -c1-12)
tag="compose-models/python-base:$key"
if docker image inspect "$tag" >/dev/null 2>&1; then echo "$tag"; exit 0; fi
# The wheels the templates' requirements.txt files name (their versions as this machine's pip resolves them).
wheels=(openai anthropic httpx starlette uvicorn)
if [ "$(uname -s)" != Linux ] || ! command -v debootstrap >/dev/null 2>&1; then
    echo "base-image: needs Linux with debootstrap (apt-get install debootstrap); elsewhere use python:3.12-slim" >&2
    exit 1
fi
work=$(mktemp -d)
trap 'umount "$work/rootfs/proc" 2>/dev/null || true; rm -rf "$work"' EXIT
debootstrap --variant=minbase --include=python3,python3-pip,python-is-python3,ca-certificates \
    bookworm "$work/rootfs" "${COMPOSE_MODELS_DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; echo "base-image: debootstrap failed" >&2; exit 1; }
# Debian marks its Python externally managed; in an image the application owns it, as in python:3.12-slim.
rm -f "$work"/rootfs/usr/lib/python3*/EXTERNALLY-MANAGED
# Wheels for the rootfs's Python (3.11 on bookworm), downloaded by this machine's pip from its index.
python_version=$(chroot "$work/rootfs" python3 -c 'import sys; print(f"{sys.version_info[0]}{sys.version_info[1]}")')
mkdir -p "$work/rootfs/tmp/wheels"
python3 -m pip download -q --only-binary :all: --python-version "$python_version" \
    --platform "manylinux_2_17_$(uname -m)" --platform "manylinux2014_$(uname -m)" -d "$work/rootfs/tmp/wheels" "${wheels[@]}"
PIP_ROOT_USER_ACTION=ignore chroot "$work/rootfs" python3 -m pip install -q --no-cache-dir --no-index --find-links /tmp/wheels "${wheels[@]}"
rm -rf "$work/rootfs/tmp/wheels" "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/*
tar -C "$work/rootfs" -c . | docker import \
    -c 'ENV PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 PYTHONUNBUFFERED=1' -c 'CMD ["python3"]' - "$tag" >/dev/null
echo "base-image: built $tag (debootstrap minbase + ${wheels[*]})" >&2
echo "$tag"
