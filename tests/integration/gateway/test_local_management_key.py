"""Only this machine's CLI manages models, whatever address a request comes from: every Mac engine delivers
containers' requests to the host's loopback, so 127.0.0.1 proves nothing. The runner writes a fresh key for
its CLI at every start (0600); management without it (or an admin key) is refused in the called API's
shape, inference stays open, and ``serve --open-management`` brings back management for any loopback caller.

A real runner with SmolLM2; the container is busybox on the real Docker engine, calling the runner at the
address the reach probe found (``status --json``), as a Compose service would."""

import json
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from tests.conftest import LOCAL_MODEL_TAG, cli_headers, detached_runner, require_docker_and_busybox, run_cli
from tests.management_refusals import CHAT, MANAGEMENT, Request, assert_refused, container_requests


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory, smollm2_gguf: Path) -> Iterator[dict[str, str]]:
    """A runner with the defaults (no keys, management not opened)."""
    with detached_runner(tmp_path_factory.mktemp("closed-runner"), smollm2_gguf) as environment:
        yield environment


def _url(environment: dict[str, str]) -> str:
    return f"http://127.0.0.1:{environment['COMPOSE_MODELS_PORT']}"


def _key_path(environment: dict[str, str]) -> Path:
    return Path(environment["COMPOSE_MODELS_HOME"]) / "runner" / "local-api-key"


def _from_a_container(host: str, port: int, requests: list[Request]) -> list[tuple[int, str]]:
    """Each request sent by a busybox container on this machine's engine; each answer's status and body."""
    sent = container_requests(host, port, requests)
    client = docker.from_env()
    try:
        container = client.containers.run("busybox:1.36", ["sh", "-c", sent.script], detach=True)
        try:
            container.wait(timeout=600)
            output = container.logs(stdout=True, stderr=True).decode(errors="replace")
        finally:
            container.remove(force=True)
    finally:
        client.close()
    answers = sent.answers(output)
    assert len(answers) == len(requests), output
    return answers


def test_a_container_infers_but_may_not_manage(environment: dict[str, str]) -> None:
    require_docker_and_busybox()
    endpoint = json.loads(run_cli("status", "--json", env=environment).stdout)["endpoint"]  # the reach probe's route
    address, port = httpx.URL(endpoint).host, int(environment["COMPOSE_MODELS_PORT"])
    requests: list[Request] = [("POST", "/engines/v1/chat/completions", CHAT), *[(m, p, b) for m, p, b, _ in MANAGEMENT]]
    [(status, body), *refusals] = _from_a_container(address, port, requests)
    assert status == 200 and json.loads(body)["object"] == "chat.completion", body  # no key needed to infer
    for (status, body), (method, path, _, shape) in zip(refusals, MANAGEMENT):
        assert_refused(status, body, shape, (method, path), _key_path(environment))
    assert LOCAL_MODEL_TAG in run_cli("ls", env=environment).stdout  # nothing was deleted


def test_a_process_on_loopback_without_the_key_may_not_manage(environment: dict[str, str]) -> None:
    url, key_path = _url(environment), _key_path(environment)
    assert key_path.stat().st_mode & 0o777 == 0o600  # written at start although no keys are configured
    for method, path, body, shape in MANAGEMENT:
        answer = httpx.request(method, f"{url}{path}", json=body, timeout=60)
        assert_refused(answer.status_code, answer.text, shape, (method, path), key_path)
    wrong = httpx.get(f"{url}/engines/requests", headers={"Authorization": "Bearer not-the-key"})
    assert wrong.status_code == 403
    # Inference and reads stay open to it.
    assert httpx.post(f"{url}/v1/chat/completions", json=CHAT, timeout=120).status_code == 200
    assert LOCAL_MODEL_TAG in httpx.get(f"{url}/api/tags").text
    # The dashboard's data shows it no one's requests: on a Mac, "this machine's loopback" is every container.
    assert httpx.get(f"{url}/ui/activity").json()["recent"] == []
    manage = cli_headers(environment["COMPOSE_MODELS_HOME"])
    assert httpx.get(f"{url}/engines/requests", headers=manage).status_code == 200
    assert httpx.get(f"{url}/ui/activity", headers=manage).json()["recent"]


def test_this_machines_cli_still_manages(environment: dict[str, str]) -> None:
    # `run` asks for no max_tokens: --n-predict bounds its answer
    run_cli("configure", "--context-size", "1024", LOCAL_MODEL_TAG, "--", "--n-predict", "16", env=environment)
    configured = httpx.get(f"{_url(environment)}/engines/_configure", params={"model": LOCAL_MODEL_TAG}).json()
    assert "1024" in json.dumps(configured), configured
    run_cli("run", LOCAL_MODEL_TAG, "Hi", env=environment, timeout=300)
    assert LOCAL_MODEL_TAG in run_cli("ps", env=environment).stdout
    run_cli("unload", LOCAL_MODEL_TAG, env=environment)
    assert LOCAL_MODEL_TAG not in run_cli("ps", env=environment).stdout
    run_cli("tag", LOCAL_MODEL_TAG, "local/copied:1", env=environment)
    run_cli("rm", "local/copied:1", env=environment)
    assert "local/copied" not in run_cli("ls", env=environment).stdout


def test_the_dashboard_verb_gives_this_machine_an_address_that_sees_every_callers_requests(
    environment: dict[str, str],
) -> None:
    httpx.post(f"{_url(environment)}/v1/chat/completions", json=CHAT, timeout=120)
    address = run_cli("dashboard", env=environment).stdout.strip()
    page, _, fragment = address.partition("#key=")
    assert page == f"{_url(environment)}/ui" and fragment == _key_path(environment).read_text()
    activity = httpx.get(f"{_url(environment)}/ui/activity", headers={"Authorization": f"Bearer {fragment}"}).json()
    assert "local" in {entry["caller"] for entry in activity["recent"]}  # and a container's, after the test above


def test_open_management_lets_loopback_manage_without_the_key(
    tmp_path_factory: pytest.TempPathFactory, smollm2_gguf: Path
) -> None:
    home = tmp_path_factory.mktemp("open-runner")
    with detached_runner(home, smollm2_gguf, serve_options=("--open-management",)) as environment:
        url = _url(environment)
        assert httpx.get(f"{url}/engines/requests").status_code == 200
        assert httpx.post(f"{url}/v1/chat/completions", json=CHAT, timeout=120).status_code == 200
        assert httpx.get(f"{url}/ui/activity").json()["recent"]  # as before: loopback sees every caller's
        assert httpx.post(f"{url}/models/{LOCAL_MODEL_TAG}/tag", params={"repo": "local/copied", "tag": "1"}).status_code == 201
        assert httpx.delete(f"{url}/models/local/copied:1").status_code == 200
        configured = httpx.post(f"{url}/engines/_configure", json={"model": LOCAL_MODEL_TAG, "context-size": 1024})
        assert configured.status_code == 202, configured.text
