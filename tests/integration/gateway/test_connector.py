"""``compose-models gateway`` in front of a runner: keys, limits and the request log apply; streams pass through."""

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import LOCAL_MODEL_TAG, free_port
from tests.integration.gateway.conftest import KEYS, bearer, request_log


@pytest.fixture
def connector(runner: str, gateway_settings: None, isolated_home: Path) -> Iterator[str]:
    """The connector with keys and limits, in front of a runner started before them, so without keys."""
    port = free_port()
    log = open(isolated_home / "gateway.out", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "compose_models", "gateway", "--upstream", runner, "--listen", f"127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/engines/status", timeout=1)
                break
            except httpx.HTTPError:
                assert process.poll() is None and time.monotonic() < deadline, (isolated_home / "gateway.out").read_text()
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


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
