"""One short-lived container run to its end, its output read only once it has exited.

docker-py's ``containers.run(..., remove=True)`` without ``detach`` starts the container and then follows
its logs; for a container that exits at once that follow sometimes returns nothing at all (3 runs in 8 of a
busybox ``wget`` here), and the caller cannot tell an empty answer from a lost one. Here the container is
created, started, waited for (with a deadline: killed when it passes), and only then are its logs read,
stdout and stderr apart; it is removed afterwards whatever happened. Its logs go to ``json-file`` so they
can be read back whatever the engine's default log driver (Podman takes it as its ``k8s-file``).
"""

import contextlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Finished:
    """What a container did: its exit status (None when it was killed at the deadline) and its output."""

    status: int | None
    stdout: bytes
    stderr: bytes

    @property
    def timed_out(self) -> bool:
        return self.status is None


def run_to_end(client: Any, image: str, command: list[str], *, timeout: float, **create: Any) -> Finished:
    """Run ``command`` in a new container of ``image`` on ``client`` (a docker-py client) and return what it did.

    ``create`` goes to ``containers.create`` (network, extra_hosts, labels, ...). A container still running
    after ``timeout`` seconds is killed. docker-py's errors from creating or starting it (``APIError``,
    ``ImageNotFound``) reach the caller; the container, once created, is always removed.
    """
    import docker
    import requests

    container = client.containers.create(
        image, command, log_config=docker.types.LogConfig(type="json-file"), **create
    )
    try:
        container.start()
        try:
            status: int | None = int(container.wait(timeout=timeout)["StatusCode"])
        except requests.exceptions.RequestException:  # the deadline passed (a read timeout on the wait)
            status = None
            with contextlib.suppress(docker.errors.APIError):  # it may have exited meanwhile
                container.kill()
            container.wait(timeout=30)
        return Finished(status, container.logs(stdout=True, stderr=False), container.logs(stdout=False, stderr=True))
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)
