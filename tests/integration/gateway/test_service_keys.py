"""With limits on, `compose-models up` gives each service its own key, and the runner knows and limits callers
by it. Behind one source address, as every container is on a VM engine (a Mac's), the keys still tell
the services apart: the second half sends both services' keys from this host's loopback, one address."""

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import LOCAL_MODEL_TAG, require_docker_and_busybox, run_cli
from tests.integration.gateway.conftest import request_log

pytestmark = pytest.mark.docker

REQUESTS_PER_MINUTE = 2
# Each service calls its URL with its key, then prints the key so the test can present it from the host.
ASK = (
    'wget -qO- --header "Authorization: Bearer $$LLM_API_KEY" --header "Content-Type: application/json" '
    '--post-data "{\\"model\\": \\"$$LLM_MODEL\\", \\"max_tokens\\": 1, \\"messages\\": [{\\"role\\": \\"user\\", \\"content\\": \\"Hi\\"}]}" '
    '"$${LLM_URL}chat/completions" >/dev/null && echo "key=$$OPENAI_API_KEY same=$$([ "$$OPENAI_API_KEY" = "$$LLM_API_KEY" ] && echo yes)"'
)


@pytest.fixture
def limited_runner(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[str]:
    monkeypatch.setenv("COMPOSE_MODELS_REQUESTS_PER_MINUTE", str(REQUESTS_PER_MINUTE))
    yield request.getfixturevalue("runner")


def _up_two_services(tmp_path: Path) -> tuple[str, dict[str, str]]:
    """`compose-models up` of services web and worker that each ask once with their key; the keys they got."""
    require_docker_and_busybox()
    compose_file = tmp_path / "compose.yaml"
    service = {"image": "busybox:1.36", "models": ["llm"], "command": ["sh", "-c", ASK]}
    compose_file.write_text(json.dumps({
        "services": {"web": service, "worker": service},
        "models": {"llm": {"model": LOCAL_MODEL_TAG}},
    }))
    project = f"keys-{uuid.uuid4().hex[:8]}"
    try:
        result = run_cli("up", "-f", str(compose_file), "-p", project, check=False)
    finally:
        run_cli("down", "-f", str(compose_file), "-p", project, "--", "--timeout", "0", check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    keys = dict(re.findall(r"(web|worker)-1\s*\|\s*key=(\S+) same=yes", output))
    assert keys.keys() == {"web", "worker"} and keys["web"] != keys["worker"], output
    return project, keys


def test_with_api_keys_on_the_services_of_up_get_in_with_their_own_keys(
    gateway_settings: None, runner: str, tmp_path: Path, isolated_home: Path
) -> None:
    project, _ = _up_two_services(tmp_path)  # a container without a valid key gets 401, and says nothing
    assert sorted((e["caller"], e["caller_kind"], e["status"]) for e in request_log(isolated_home, 2)) == [
        (f"{project}/web", "service", 200), (f"{project}/worker", "service", 200)
    ]


def test_each_service_is_its_own_caller_by_its_key_even_behind_one_address(
    limited_runner: str, tmp_path: Path, isolated_home: Path
) -> None:
    project, keys = _up_two_services(tmp_path)

    from_containers = request_log(isolated_home, 2)
    assert sorted((e["caller"], e["caller_kind"], e["status"]) for e in from_containers) == [
        (f"{project}/web", "service", 200), (f"{project}/worker", "service", 200)
    ]

    def ask(service: str) -> int:
        body = {"model": LOCAL_MODEL_TAG, "max_tokens": 1, "messages": [{"role": "user", "content": "Hi"}]}
        headers = {"Authorization": f"Bearer {keys[service]}"}
        return httpx.post(f"{limited_runner}/engines/v1/chat/completions", json=body, headers=headers, timeout=120).status_code

    # From here every request has the same source address, 127.0.0.1.
    assert ask("web") == 200  # web's second request this minute: the limit
    assert ask("web") == 429
    assert ask("worker") == 200  # worker has its own budget
    from_host = request_log(isolated_home, 5)[2:]
    assert [(e["caller"], e["caller_kind"], e["address"], e["status"]) for e in from_host] == [
        (f"{project}/web", "service", "127.0.0.1", 200),
        (f"{project}/web", "service", "127.0.0.1", 429),
        (f"{project}/worker", "service", "127.0.0.1", 200),
    ]
