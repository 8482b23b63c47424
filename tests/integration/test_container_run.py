"""run_to_end on this machine's real Docker engine: a short-lived container's exit status and output, read
after it exited, stdout and stderr apart; a container past its deadline killed; none left behind."""

import uuid
from collections.abc import Iterator

import docker
import pytest

from compose_models.container_run import run_to_end
from tests.conftest import require_docker_and_busybox

pytestmark = pytest.mark.docker


@pytest.fixture
def client() -> Iterator[docker.DockerClient]:
    require_docker_and_busybox()
    client = docker.from_env()
    yield client
    client.close()


def _left_behind(client: docker.DockerClient, token: str) -> list[str]:
    return [container.name for container in client.containers.list(all=True, filters={"label": f"compose-models.test={token}"})]


def test_a_container_that_exits_at_once_gives_its_status_and_both_streams(client: docker.DockerClient) -> None:
    token = uuid.uuid4().hex
    finished = run_to_end(client, "busybox:1.36", ["sh", "-c", "echo out; echo err >&2; exit 3"], timeout=60,
                          labels={"compose-models.test": token})
    assert (finished.status, finished.stdout, finished.stderr) == (3, b"out\n", b"err\n")
    assert not finished.timed_out
    assert _left_behind(client, token) == []


def test_a_container_past_its_deadline_is_killed_and_removed(client: docker.DockerClient) -> None:
    token = uuid.uuid4().hex
    finished = run_to_end(client, "busybox:1.36", ["sh", "-c", "echo started; exec sleep 600"], timeout=2,
                          labels={"compose-models.test": token})
    assert finished.timed_out and finished.status is None
    assert finished.stdout == b"started\n"  # what it printed before the deadline is kept
    assert _left_behind(client, token) == []
