"""Pulls through a real runner (``compose-models serve``) from a real registry: what a request may ask
for, slow pulls beside chats, and clients that leave in the middle of a pull."""

import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from compose_models.store import ModelStore, StoredModel, package_gguf
from compose_models.store.push import push_model
from tests.conftest import LOCAL_MODEL_TAG, cli_headers, require, run_cli
from tests.integration.api.conftest import serving_runner
from tests.integration.store.local_registry import running_registry
from tests.integration.store.throttled_proxy import throttled_proxy
from tests.unit.store.ggufs import write_gguf

BLOB_ROWS = 1_250_000  # 32 bytes a row: a 40 MB weights blob


@pytest.fixture(scope="module")
def runner_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runner-home")


@pytest.fixture(scope="module")
def runner(runner_home: Path, smollm2_gguf: Path) -> Iterator[str]:
    """One runner for the module (each start loads the model): every test pulls a model of its own."""
    with serving_runner(runner_home, smollm2_gguf) as url:
        yield url


@pytest.fixture(scope="module")
def manage(runner: str, runner_home: Path) -> dict[str, str]:
    """The headers this machine's CLI sends (its local key): pulls through the runner are management."""
    return cli_headers(runner_home)


def _push_big_model(registry: str, tmp_path: Path, repository: str, insecure: bool = False) -> StoredModel:
    """A 40 MB model whose weights are this repository's own (its name in the header): no test finds its blob
    already in the shared runner's store from another test's pull."""
    source = ModelStore(tmp_path / "source")
    reference = f"{registry}/{repository}:v1"
    weights = write_gguf(tmp_path / "big.gguf", tensor_rows=BLOB_ROWS, extra_strings={"general.description": repository})
    model = package_gguf(source, weights, reference)
    push_model(source, reference, insecure)
    return model


def _weights(model: StoredModel) -> str:
    return max(model.layers, key=lambda layer: layer.size).digest


def _partial(home: Path, digest: str) -> Path:
    return ModelStore(home / "models").blobs.incomplete_path(digest)


# -- 3. insecure ----------------------------------------------------------------------------------


def test_a_request_cannot_make_a_registry_elsewhere_plain_http(
    runner: str, runner_home: Path, manage: dict[str, str], tmp_path: Path
) -> None:
    """A real registry on the Docker bridge address: this machine, but not loopback, as a LAN registry."""
    from compose_models.docker_host import detect_docker_host

    gateways = detect_docker_host().local_bridge_gateways()
    require(bool(gateways), "a Docker bridge (docker0) on this machine", linux_only=True)
    (tmp_path / "registry").mkdir()
    with running_registry(tmp_path / "registry", host=gateways[0]) as registry:
        model = _push_big_model(registry, tmp_path, "team/plain", insecure=True)
        reference = f"{registry}/team/plain:v1"

        body = {"model": reference, "insecure": True, "stream": False}
        asked = httpx.post(f"{runner}/api/pull", json=body, headers=manage, timeout=60)
        assert asked.status_code == 400, asked.text
        error = asked.json()["error"]
        assert registry in error and "loopback" in error and f"compose-models pull --insecure {reference}" in error

        created = httpx.post(f"{runner}/models/create", json={"from": reference}, headers=manage, timeout=60)
        assert created.status_code == 400 and f"https://{registry}" in created.text
        assert ModelStore(runner_home / "models").find(reference) is None

        # The user asking on the command line still gets plain HTTP
        env = {**os.environ, "COMPOSE_MODELS_HOME": str(runner_home)}
        assert run_cli("pull", "--insecure", reference, env=env).stdout.strip() == "Model pulled successfully"
        assert ModelStore(runner_home / "models").get(reference).id == model.id


# -- 5. slow pulls and the default thread pool ------------------------------------------------------


def test_slow_pulls_leave_the_runner_free_to_answer_a_chat(
    registry: str, runner: str, manage: dict[str, str], tmp_path: Path
) -> None:
    """More slow pulls in flight than the event loop's default executor has threads; a chat that has to
    load its model (the scheduler's work goes through that executor) still answers at once."""
    _push_big_model(registry, tmp_path, "team/slow")
    default_threads = min(32, (os.cpu_count() or 1) + 4)  # asyncio's default executor, on this machine
    with throttled_proxy(registry, 256 * 1024) as proxy:  # the 40 MB blob takes minutes
        pulls = _pulls_in_flight(runner, manage, f"{proxy.address}/team/slow:v1", default_threads + 2)
        try:
            time.sleep(2)  # every request in, the first one downloading
            started = time.monotonic()
            answer = httpx.post(
                f"{runner}/engines/v1/chat/completions",
                json={"model": LOCAL_MODEL_TAG, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4},
                timeout=60,
            )
            elapsed = time.monotonic() - started
            assert answer.status_code == 200, answer.text
            assert elapsed < 20, f"the chat took {elapsed:.1f} s beside {len(pulls)} slow pulls"
            assert all(thread.is_alive() for thread, _ in pulls)  # the pulls were still going
        finally:
            for _, stop in pulls:
                stop.set()


def _pulls_in_flight(runner: str, manage: dict[str, str], reference: str, count: int) -> list[tuple[threading.Thread, threading.Event]]:
    """``count`` streamed pulls, each held open by a thread until its event is set."""
    pulls = []
    for _ in range(count):
        stop = threading.Event()

        def pull(stop: threading.Event = stop) -> None:
            with httpx.stream("POST", f"{runner}/models/create", json={"from": reference}, headers=manage, timeout=None) as response:
                for _ in response.iter_lines():
                    if stop.is_set():
                        return

        thread = threading.Thread(target=pull, daemon=True)
        thread.start()
        pulls.append((thread, stop))
    return pulls


# -- 6. a client that leaves cancels its pull ---------------------------------------------------------


@pytest.mark.parametrize("route", ["/models/create", "/api/pull", "/api/pull without streaming"])
def test_a_client_that_leaves_cancels_its_pull_which_resumes_later(
    route: str, registry: str, runner: str, runner_home: Path, manage: dict[str, str], tmp_path: Path
) -> None:
    repository = "team/left-" + re.sub("[^a-z]+", "-", route).strip("-")
    model = _push_big_model(registry, tmp_path, repository)
    partial = _partial(runner_home, _weights(model))
    with throttled_proxy(registry, 8 * 1024 * 1024) as proxy:  # about 5 s for the blob, 2 s of it watched idle
        reference = f"{proxy.address}/{repository}:v1"
        _start_and_leave(runner, manage, route, reference, partial)
        time.sleep(1)  # what was in flight lands
        kept = partial.stat().st_size
        time.sleep(2)
        assert partial.stat().st_size == kept, "the runner went on downloading for a client that had left"
        assert 0 < kept < max(layer.size for layer in model.layers)
        assert ModelStore(runner_home / "models").find(reference) is None

        requests_before = len(proxy.requests_text)
        done = httpx.post(f"{runner}/models/create", json={"from": reference}, headers=manage, timeout=120)
        assert json.loads(done.text.splitlines()[-1]) == {"type": "success", "message": "Model pulled successfully"}
        resumed = proxy.requests_text[requests_before:]
    assert f"range: bytes={kept}-" in resumed.lower()
    assert ModelStore(runner_home / "models").get(reference).id == model.id
    assert not partial.exists()


def _start_and_leave(runner: str, manage: dict[str, str], route: str, reference: str, partial: Path) -> None:
    """Ask for the pull, and hang up once a quarter of the blob is on disk (a socket: a pull that is not
    streamed sends nothing until it is done)."""
    path, _, how = route.partition(" ")
    body = json.dumps({"from": reference} if path == "/models/create" else {"model": reference, "stream": not how})
    host, port = runner.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port))) as client:
        client.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: {manage['Authorization']}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n{body}".encode()
        )
        deadline = time.monotonic() + 20
        while not (partial.is_file() and partial.stat().st_size > 10_000_000):
            assert time.monotonic() < deadline, f"{partial} did not grow"
            time.sleep(0.05)
