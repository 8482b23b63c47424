"""Test which URL a container actually reaches the runner at, instead of guessing it from the engine kind.

A throwaway busybox container, on a user-defined bridge network like the one Compose creates for a
project, fetches the runner's reach proof (``GET /engines/reach?challenge=...``) at every candidate
host at once, within a few seconds, and stops at the first answer that carries the right proof; that
also proves it reached our runner, not Docker Model Runner. Of candidates that answered by then, the
first in order of preference wins.

``host.docker.internal`` through ``extra_hosts: host-gateway`` is tried in a second container, and
only when no other candidate answered: it changes the user's services, and Podman refuses such a
container at creation (which counts as that candidate failing).
"""

import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from compose_models.container_run import run_to_end
from compose_models.docker_host import DockerHost, docker_client
from compose_models.errors import UserError
from compose_models.runner.reach.proof import REACH_PATH, new_challenge, reach_answer

if TYPE_CHECKING:
    from docker import DockerClient

PROBE_IMAGE = "busybox:1.36"
# What a pull fetches when PROBE_IMAGE is not on the engine: docker.io/library/busybox:1.36 (1.36.1) by its
# multi-arch index digest (Docker Hub's answer, recorded on 2026-10-03), so a registry or a man in the middle that
# moves the tag cannot choose what the probe runs. A PROBE_IMAGE already on the engine (built by
# scripts/busybox-image.sh where nothing can be pulled) is used as it is.
PROBE_IMAGE_REPOSITORY = "busybox"
PROBE_IMAGE_DIGEST = "sha256:73aaf090f3d85aa34ee199857f03fa3a95c8ede2ffd4cc2cdb5b94e566b11662"
HOST_GATEWAY_NAME = "host.docker.internal"
CANDIDATE_NAMES = ("host.docker.internal", "host.containers.internal", "host.lima.internal")
PROBE_SECONDS = 5
# The probe container's own deadline: the script stops by itself after PROBE_SECONDS, so this only bounds a stuck engine.
CONTAINER_SECONDS = 30

ANSWERED = "answered"
NO_SUCH_NAME = "no such name"
REFUSED = "refused"
TIMED_OUT = "timed out"
WRONG_NONCE = "wrong nonce"
UNREACHABLE = "unreachable"
REJECTED = "rejected by the engine"


@dataclass(frozen=True)
class Candidate:
    host: str
    host_gateway: bool = False

    def label(self) -> str:
        return f"{self.host} (extra_hosts host-gateway)" if self.host_gateway else self.host


@dataclass(frozen=True)
class Attempt:
    candidate: Candidate
    outcome: str
    detail: str = ""

    def describe(self) -> str:
        return f"{self.candidate.label()}: {self.outcome}{f' ({self.detail})' if self.detail else ''}"


def candidates(docker: DockerHost, runner_hosts: list[str]) -> list[Candidate]:
    """The names the Mac engines provide, then the bridge gateways the runner listens on, then
    host.docker.internal mapped to ``host-gateway``."""
    gateways = [address for address in docker.bridge_gateways if address in runner_hosts]
    return [*(Candidate(name) for name in CANDIDATE_NAMES), *(Candidate(address) for address in gateways),
            Candidate(HOST_GATEWAY_NAME, host_gateway=True)]


# Every fetch runs at once in the background; the script waits until one has brought the expected
# answer ($1), all have finished, or the probe's time is up, then prints one block per candidate. It
# always exits 0, so the output is all we read. (Stopping at the first answer matters where an unknown
# name takes long to fail.) No `wget -T`: Debian's busybox 1.35 wget crashes with it; the script's own
# deadline bounds each fetch.
_SCRIPT = r"""
expected=$1
shift
n=0
for url in "$@"; do
  ( wget -O /tmp/body$n "$url" 2>/tmp/err$n; echo $? >/tmp/rc$n ) &
  n=$((n+1))
done
waited=0
while [ $waited -lt {ticks} ]; do
  finished=0; answered=0; i=0
  while [ $i -lt $n ]; do
    if [ -f /tmp/rc$i ]; then
      finished=$((finished+1))
      [ "$(cat /tmp/rc$i)" = 0 ] && [ "$(cat /tmp/body$i)" = "$expected" ] && answered=1
    fi
    i=$((i+1))
  done
  [ $finished -eq $n ] || [ $answered -eq 1 ] && break
  sleep 0.2 2>/dev/null || sleep 1
  waited=$((waited+1))
done
i=0
while [ $i -lt $n ]; do
  echo "@@rc $i $(cat /tmp/rc$i 2>/dev/null || echo none)"
  echo "@@err $i $(cat /tmp/err$i 2>/dev/null | tr '\n' ' ')"
  echo "@@body $i $(head -c 200 /tmp/body$i 2>/dev/null | tr '\n' ' ')"
  i=$((i+1))
done
""".replace("{ticks}", str(PROBE_SECONDS * 5))


def probe(docker: DockerHost, port: int, secret: str, tried: list[Candidate], scheme: str = "http") -> list[Attempt]:
    """Try ``tried`` in order and return what each did, stopping at the first that answered."""
    import docker as docker_sdk
    import requests

    try:
        return _probe(docker, port, secret, tried, scheme)
    except (docker_sdk.errors.DockerException, requests.exceptions.RequestException) as error:  # the engine went away, or refused the network
        raise UserError(f"the reach probe could not run on the Docker engine at {docker.endpoint}: {error}") from None


def _probe(docker: DockerHost, port: int, secret: str, tried: list[Candidate], scheme: str) -> list[Attempt]:
    client = docker_client(docker.location, timeout=30)
    network = None
    try:
        _require_image(client)
        network = client.networks.create(f"compose-models-reach-{uuid.uuid4().hex[:12]}", driver="bridge")
        attempts: list[Attempt] = []
        plain = [candidate for candidate in tried if not candidate.host_gateway]
        mapped = [candidate for candidate in tried if candidate.host_gateway]
        for group in (plain, mapped):
            if group and not any(attempt.outcome == ANSWERED for attempt in attempts):
                attempts += _probe_group(client, network.name, port, secret, group, scheme)
        return _up_to_first_answer(attempts)
    finally:
        if network is not None:
            network.remove()
        client.close()


def _up_to_first_answer(attempts: list[Attempt]) -> list[Attempt]:
    for index, attempt in enumerate(attempts):
        if attempt.outcome == ANSWERED:
            return attempts[: index + 1]
    return attempts


def _require_image(client: "DockerClient") -> None:
    import docker

    try:
        client.images.get(PROBE_IMAGE)
        return
    except docker.errors.ImageNotFound:
        pass
    pinned = f"{PROBE_IMAGE_REPOSITORY}@{PROBE_IMAGE_DIGEST}"
    try:
        image = client.images.pull(PROBE_IMAGE_REPOSITORY, tag=PROBE_IMAGE_DIGEST)
        repository, _, tag = PROBE_IMAGE.rpartition(":")
        image.tag(repository, tag)
    except docker.errors.APIError as error:
        raise UserError(
            f"the reach probe needs the {PROBE_IMAGE} image, which is not on the engine and could not be pulled "
            f"as {pinned} ({error.explanation or error}); pull it with `docker pull {pinned}` and "
            f"`docker tag {pinned} {PROBE_IMAGE}` (or build it where nothing can be pulled: scripts/busybox-image.sh)"
        ) from None


def _probe_group(
    client: "DockerClient", network: str, port: int, secret: str, group: list[Candidate], scheme: str = "http"
) -> list[Attempt]:
    import docker

    challenge = new_challenge()
    expected = reach_answer(secret, challenge)
    # Over TLS busybox's wget checks no certificate; the reach proof is what shows it reached this runner.
    urls = [f"{scheme}://{_url_host(candidate.host)}:{port}{REACH_PATH}?challenge={challenge}" for candidate in group]
    extra_hosts = {HOST_GATEWAY_NAME: "host-gateway"} if any(candidate.host_gateway for candidate in group) else None
    try:
        finished = run_to_end(
            client, PROBE_IMAGE, ["sh", "-c", _SCRIPT, "reach-probe", expected, *urls], timeout=CONTAINER_SECONDS,
            network=network, extra_hosts=extra_hosts, labels={"compose-models.reach-probe": "1"},
        )
    except docker.errors.APIError as error:  # Podman: "host containers internal IP address is empty"
        return [Attempt(candidate, REJECTED, str(error.explanation or error)) for candidate in group]
    stderr = finished.stderr.decode(errors="replace").strip()
    blocks = _parse(finished.stdout.decode(errors="replace"))
    if finished.timed_out or finished.status != 0 or not blocks:
        # The script always exits 0 within PROBE_SECONDS and prints a block per candidate: anything else is the
        # container's failure, not an answer about any candidate.
        if finished.timed_out:
            detail = f"still running after {CONTAINER_SECONDS}s, killed"
        else:
            detail = f"exit status {finished.status}" + (", and it printed nothing" if not blocks else "")
        detail += f": {stderr}" if stderr else ""
        return [Attempt(candidate, "probe container failed", detail) for candidate in group]
    return [_attempt(candidate, *blocks.get(index, ("none", "", "")), expected) for index, candidate in enumerate(group)]


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _parse(output: str) -> dict[int, tuple[str, str, str]]:
    blocks: dict[int, list[str]] = {}
    for line in output.splitlines():
        match = re.match(r"@@(rc|err|body) (\d+) ?(.*)$", line)
        if match:
            blocks.setdefault(int(match.group(2)), ["none", "", ""])[("rc", "err", "body").index(match.group(1))] = (
                match.group(3).strip()
            )
    return {index: (values[0], values[1], values[2]) for index, values in blocks.items()}


def _attempt(candidate: Candidate, rc: str, error: str, body: str, expected: str) -> Attempt:
    """Name what one fetch did from busybox wget's exit status, stderr and body.

    wget prints "Connecting to HOST:PORT (ADDRESS:PORT)" once the name resolved, so a fetch cut off
    before that line was still looking the name up.
    """
    resolved = "Connecting to" in error
    message = error[error.find("wget: ") + len("wget: "):].strip() if "wget: " in error else ""
    lowered = message.lower()
    if rc == "0":
        if body == expected:
            return Attempt(candidate, ANSWERED)
        return Attempt(candidate, WRONG_NONCE, f"something else answered: {body[:80]!r}")
    if rc == "none" or "timed out" in lowered:
        phase = "connecting" if resolved else "looking the name up"
        return Attempt(candidate, TIMED_OUT, f"still {phase} after {PROBE_SECONDS}s")
    if "bad address" in lowered or "unknown host" in lowered or "not known" in lowered:
        return Attempt(candidate, NO_SUCH_NAME)
    if "refused" in lowered:
        return Attempt(candidate, REFUSED)
    if "server returned error" in lowered:
        return Attempt(candidate, WRONG_NONCE, f"something else answered: {message.removeprefix('server returned error: ')}")
    if "unreachable" in lowered or "no route" in lowered:
        return Attempt(candidate, UNREACHABLE, message)
    return Attempt(candidate, "failed", message or f"wget exit status {rc}")
