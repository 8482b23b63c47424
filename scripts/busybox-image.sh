#!/usr/bin/env bash
# The busybox:1.36 image the examples, probes and end-to-end tests run: pulled when a registry answers,
# else (no image can be pulled on the test machines) built from Debian's busybox-static. A build is only
# possible on Linux, where the host's binary is a Linux one, and only when it matches the engine's
# architecture. Also tagged busybox:latest so examples naming the public image run unmodified.
set -euo pipefail
if docker image inspect busybox:1.36 >/dev/null 2>&1; then exit 0; fi
if docker pull -q busybox:1.36 >/dev/null 2>&1; then
    docker tag busybox:1.36 busybox:latest
    echo "pulled busybox:1.36"
    exit 0
fi

canonical_arch() {
    case "$1" in
        amd64 | x86_64) echo x86_64 ;;
        arm64 | aarch64) echo aarch64 ;;
        *) echo "$1" ;;
    esac
}
host_arch=$(canonical_arch "$(uname -m)")
engine_arch=$(canonical_arch "$(docker info --format '{{.Architecture}}')")
if [ "$(uname -s)" != Linux ]; then
    echo "busybox-image: \`docker pull busybox:1.36\` failed and no image can be built here: a $(uname -s) busybox does not run in a Linux container. Let the engine reach a registry (or \`docker load\` a busybox:1.36 image) and run this again" >&2
    exit 1
fi
if [ "$host_arch" != "$engine_arch" ]; then
    echo "busybox-image: \`docker pull busybox:1.36\` failed, and this $host_arch host's busybox cannot be built into an image for the $engine_arch engine. Let the engine reach a registry (or \`docker load\` a busybox:1.36 image) and run this again" >&2
    exit 1
fi
if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then
    echo "busybox-image: \`docker pull busybox:1.36\` failed, and building the image needs a static /bin/busybox (apt-get install busybox-static)" >&2
    exit 1
fi
rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp"
cp /bin/busybox "$rootfs/bin/busybox"
for applet in sh wget cat env echo sed grep sleep ls printf tr head tail; do
    ln -s busybox "$rootfs/bin/$applet"
done
echo "root:x:0:0:root:/root:/bin/sh" >"$rootfs/etc/passwd"
tar -C "$rootfs" -c . | docker import - busybox:1.36 >/dev/null
docker tag busybox:1.36 busybox:latest
echo "built busybox:1.36 from /bin/busybox (no registry answered)"
