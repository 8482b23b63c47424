"""``compose-models gateway`` in front of a runner: keys, limits and the request log apply; streams pass through."""

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import LOCAL_MODEL_TAG, free_port
from tests.integration.gateway.conftest import ADMIN_KEY, KEYS, bearer, request_log, write_keys_file


@contextlib.contextmanager
def running_gateway(options: list[str], log: Path, host: str = "127.0.0.1") -> Iterator[str]:
    """``compose-models gateway`` with ``options``, listening on ``host`` at a free port: its loopback URL once it
    answers; stopped afterwards."""
    port = free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "compose_models", "gateway", *options, "--listen", f"{host}:{port}"],
            stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/engines/status", timeout=1)
                break
            except httpx.HTTPError:
                assert process.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def connector(runner: str, gateway_settings: None, isolated_home: Path) -> Iterator[str]:
    """The connector with keys and limits, in front of a runner started before them, so without keys."""
    with running_gateway(["--upstream", runner], isolated_home / "gateway.out") as url:
        yield url


def test_the_connector_guards_and_logs_what_it_forwards(connector: str, isolated_home: Path) -> None:
    body = {"model": LOCAL_MODEL_TAG, "max_tokens": 4, "stream": True, "messages": [{"role": "user", "content": "Hi"}]}
    url = f"{connector}/engines/v1/chat/completions"
    assert httpx.post(url, json=body).status_code == 401
    headers = {**bearer("alice"), "x-request-id": "through-the-gateway"}
    with httpx.stream("POST", url, json=body, headers=headers, timeout=60) as response:
        assert response.status_code == 200 and response.headers["x-request-id"] == "through-the-gateway"
        assert len([line for line in response.iter_lines() if line.startswith("data:")]) > 2
    assert httpx.get(f"{connector}/engines/ps", headers={"x-api-key": KEYS["bob"]}).json()[0]["model_name"] == LOCAL_MODEL_TAG

    gateway_entry = request_log(isolated_home, 1, "gateway")[0]
    assert gateway_entry["caller"] == "alice" and gateway_entry["request_id"] == "through-the-gateway"
    assert gateway_entry["status"] == 200 and gateway_entry["completion_tokens"] > 0
    runner_entry = request_log(isolated_home, 1)[0]  # the runner (no keys) sees the gateway, and the same id
    assert runner_entry["request_id"] == "through-the-gateway" and runner_entry["caller"] == "local"
    metrics = httpx.get(f"{connector}/metrics", headers=bearer("alice")).text
    assert f'compose_models_caller_requests_total{{caller="alice",model="{LOCAL_MODEL_TAG}",status="200"}} 1.0' in metrics


def test_on_every_address_the_connector_still_answers_only_its_own_names(tmp_path: Path) -> None:
    """DNS rebinding against a gateway listening on 0.0.0.0 (as in a container): a page that rebinds its own name
    to 127.0.0.1 sends that name in Host, and is refused in the called API's shape; the gateway's names pass."""
    keys = write_keys_file(tmp_path / "api-keys")
    options = ["--upstream", f"http://127.0.0.1:{free_port()}", "--api-keys", str(keys), "--allowed-host", "llm-gateway"]
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with running_gateway(options, tmp_path / "gateway.out", host="0.0.0.0") as url:
        port = httpx.URL(url).port
        foreign = f"rebind.attacker.example:{port}"
        activity = httpx.get(f"{url}/ui/activity", headers={**admin, "Host": foreign})
        assert activity.status_code == 403 and "rebind.attacker.example" in activity.text
        chat = httpx.post(f"{url}/engines/v1/chat/completions", json={"model": "m"}, headers={**admin, "Host": foreign})
        assert chat.status_code == 403 and chat.json()["error"]["type"] == "permission_error"
        tags = httpx.get(f"{url}/api/tags", headers={**admin, "Host": foreign})
        assert tags.status_code == 403 and "rebind.attacker.example" in tags.json()["error"]
        for own in (f"127.0.0.1:{port}", f"localhost:{port}", f"llm-gateway:{port}", socket.gethostname()):
            assert httpx.get(f"{url}/ui/activity", headers={**admin, "Host": own}).status_code == 200, own
