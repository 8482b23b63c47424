"""Which Compose projects are up, as the Docker engine knows them: the ``com.docker.compose.project``
label of its running containers. Asked with a bounded timeout; None when the engine cannot be asked."""

from compose_models.log import say

PROJECT_LABEL = "com.docker.compose.project"
TIMEOUT = 10  # seconds, for the engine's answer


def running_projects() -> set[str] | None:
    """The projects with at least one running container; None when Docker is absent or does not answer
    (blocking: call it in a thread)."""
    from compose_models.docker_host import docker_client

    try:
        client = docker_client(timeout=TIMEOUT)
        try:
            containers = client.api.containers(filters={"label": PROJECT_LABEL, "status": "running"})
        finally:
            client.close()
    except Exception as error:  # noqa: BLE001 (docker-py raises its own, requests' and OSError: any means "cannot tell")
        say(f"cannot ask the Docker engine which Compose projects are up ({type(error).__name__}: {error})")
        return None
    return {str((container.get("Labels") or {}).get(PROJECT_LABEL)) for container in containers[:10_000]}
