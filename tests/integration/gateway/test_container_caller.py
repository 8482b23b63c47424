"""A request from a container is attributed to its Compose project and service (real Docker engine)."""

import json
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import LOCAL_MODEL_TAG, cli_headers, require_docker_and_busybox
from tests.integration.gateway.conftest import request_log

pytestmark = pytest.mark.docker


def _compose(compose_file: Path, project: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", "compose", "-f", str(compose_file), "-p", project, *args], capture_output=True, text=True, timeout=300
    )


def test_the_caller_of_a_request_from_a_container_is_its_compose_service(runner: str, tmp_path: Path, isolated_home) -> None:
    require_docker_and_busybox()
    port = runner.rsplit(":", 1)[1]
    body = json.dumps({"model": LOCAL_MODEL_TAG, "max_tokens": 2, "messages": [{"role": "user", "content": "Hi"}]})
    compose_file = tmp_path / "compose.yaml"
    compose_file.write_text(json.dumps({
        "services": {
            "asker": {
                "image": "busybox:1.36",
                "extra_hosts": ["host.docker.internal:host-gateway"],
                "command": [
                    "wget", "-qO-", "--header", "Content-Type: application/json", "--post-data", body,
                    f"http://host.docker.internal:{port}/engines/v1/chat/completions",
                ],
            }
        }
    }))
    project = f"gw-{uuid.uuid4().hex[:8]}"
    try:
        result = _compose(compose_file, project, "up", "--abort-on-container-exit", "--exit-code-from", "asker")
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        _compose(compose_file, project, "down", "--timeout", "0")

    [entry] = request_log(isolated_home, 1)
    assert entry["status"] == 200
    assert entry["caller"] == f"{project}/asker" and entry["caller_kind"] == "container"
    assert (entry["project"], entry["service"]) == (project, "asker")
    assert entry["container"].startswith(f"{project}-asker-")


def test_without_keys_a_container_may_not_manage_models(runner: str) -> None:
    """Containers are clients: without keys only this machine's CLI (its local key) manages models and reads
    others' requests."""
    require_docker_and_busybox()
    port = runner.rsplit(":", 1)[1]
    base = f"http://host.docker.internal:{port}"
    script = (
        f"wget -qO- {base}/engines/v1/models >/dev/null && echo READ-OK; "
        f"wget -O- {base}/engines/requests 2>&1; "
        f"wget -O- --header 'Content-Type: application/json' --post-data '{{\"models\": []}}' {base}/engines/unload 2>&1; true"
    )
    result = subprocess.run(
        ["docker", "run", "--rm", "--add-host", "host.docker.internal:host-gateway", "busybox:1.36", "sh", "-c", script],
        capture_output=True, text=True, timeout=120,
    )
    assert "READ-OK" in result.stdout, result.stdout + result.stderr
    assert result.stdout.count("403 Forbidden") == 2, result.stdout
    assert httpx.get(f"{runner}/engines/requests", headers=cli_headers()).status_code == 200  # as the CLI
