"""Engines answer only the runner: each has a random key that only the runner knows.

A direct request to an engine's loopback port (another local user, or a container reaching the
host's loopback) would skip the runner's API keys, limits and request log; it is refused with 401,
while the same request through the runner is answered.
"""

import httpx
import pytest

from compose_models.runner.backends import llama_server
from tests.conftest import LOCAL_MODEL_TAG, require
from tests.integration.scheduler.conftest import BACKENDS
from tests.integration.scheduler.engine_processes import command_line, engine_port

BODY = {"model": LOCAL_MODEL_TAG, "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 4}


@pytest.fixture(params=(*BACKENDS, "batched"))
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "llama-server":
        require(llama_server.find_binary() is not None, "llama-server is not built: run scripts/build-llama-server.sh")
    return request.param


def test_an_engine_refuses_requests_that_do_not_come_from_the_runner(start_runner) -> None:
    runner = start_runner()
    through_runner = httpx.post(f"{runner.url}/engines/v1/chat/completions", json=BODY, timeout=120)
    assert through_runner.status_code == 200, through_runner.text
    [pid] = runner.engine_pids()
    engine = f"http://127.0.0.1:{engine_port(pid)}"

    assert httpx.post(f"{engine}/v1/chat/completions", json=BODY, timeout=60).status_code == 401
    assert httpx.post(f"{engine}/v1/completions", json={**BODY, "prompt": "1, 2,"}, timeout=60).status_code == 401
    guessed = {"authorization": "Bearer not-the-key"}
    assert httpx.post(f"{engine}/v1/chat/completions", json=BODY, headers=guessed, timeout=60).status_code == 401

    # The key is not where other local users can read it: the engine's command line.
    argv = " ".join(command_line(pid)).lower()
    assert "api-key" not in argv and "api_key" not in argv, argv
    # The runner still answers after the refusals, from the same engine.
    assert httpx.post(f"{runner.url}/engines/v1/chat/completions", json=BODY, timeout=120).status_code == 200
    assert runner.engine_pids() == [pid]
