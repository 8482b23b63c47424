"""Who may reach the runner and what each caller may do, on a real runner with SmolLM2: only requests that
name the runner's own host, management only for admin keys and this machine's CLI (its local key),
callers known by their socket and never by a header they send, refusals before a body is read.

Tests that only read share two runners (each start packages and loads SmolLM2): one with the defaults, one
with the gateway's keys; tests that need settings of their own start their own."""

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import LOCAL_MODEL_TAG, cli_headers, detached_runner, free_port, run_cli
from tests.integration.gateway.conftest import ADMIN_KEY, KEYS, REQUESTS_PER_MINUTE, bearer, write_keys_file

CHAT = {"model": LOCAL_MODEL_TAG, "max_tokens": 1, "messages": [{"role": "user", "content": "Hi"}]}


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _url(environment: dict[str, str]) -> str:
    return f"http://127.0.0.1:{environment['COMPOSE_MODELS_PORT']}"


@pytest.fixture(scope="module")
def default_environment(tmp_path_factory: pytest.TempPathFactory, smollm2_gguf: Path) -> Iterator[dict[str, str]]:
    """A runner with the defaults, for the tests that change nothing on it."""
    with detached_runner(tmp_path_factory.mktemp("default-runner"), smollm2_gguf) as environment:
        yield environment


@pytest.fixture
def runner(default_environment: dict[str, str]) -> str:
    return _url(default_environment)


@pytest.fixture(scope="module")
def guarded_environment(tmp_path_factory: pytest.TempPathFactory, smollm2_gguf: Path) -> Iterator[dict[str, str]]:
    """A runner with the gateway's API keys and request limit (the gateway conftest's settings)."""
    home = tmp_path_factory.mktemp("guarded-runner")
    keys_file = write_keys_file(home.parent / f"{home.name}-api-keys")
    settings = {"COMPOSE_MODELS_API_KEYS_FILE": str(keys_file), "COMPOSE_MODELS_REQUESTS_PER_MINUTE": str(REQUESTS_PER_MINUTE)}
    with detached_runner(home, smollm2_gguf, **settings) as environment:
        yield environment


@pytest.fixture
def guarded_runner(guarded_environment: dict[str, str]) -> str:
    return _url(guarded_environment)


@pytest.fixture
def guarded_home(guarded_environment: dict[str, str]) -> Path:
    return Path(guarded_environment["COMPOSE_MODELS_HOME"])


def test_a_request_naming_another_host_is_refused_in_the_called_apis_shape(runner: str, default_environment) -> None:
    """DNS rebinding: a page whose name now resolves to 127.0.0.1 still sends its own name in Host."""
    port = _port(runner)
    foreign = {"Host": f"rebind.attacker.example:{port}"}
    recent = httpx.get(f"{runner}/engines/requests", headers=foreign)
    assert recent.status_code == 403 and "rebind.attacker.example" in recent.text
    assert "COMPOSE_MODELS_ALLOWED_HOSTS" in recent.text
    activity = httpx.get(f"{runner}/ui/activity", headers=foreign)
    assert activity.status_code == 403
    chat = httpx.post(f"{runner}/v1/chat/completions", json=CHAT, headers=foreign)
    assert chat.status_code == 403 and chat.json()["error"]["type"] == "permission_error"
    message = httpx.post(f"{runner}/anthropic/v1/messages", json=CHAT, headers=foreign)
    assert message.status_code == 403 and message.json()["error"]["type"] == "permission_error"
    tags = httpx.get(f"{runner}/api/tags", headers=foreign)
    assert tags.status_code == 403 and "rebind.attacker.example" in tags.json()["error"]

    manage = cli_headers(default_environment["COMPOSE_MODELS_HOME"])
    for own in (f"localhost:{port}", f"127.0.0.1:{port}", "localhost", f"host.docker.internal:{port}"):
        assert httpx.get(f"{runner}/engines/requests", headers={"Host": own, **manage}).status_code == 200, own
    with socket.create_connection(("127.0.0.1", port)) as raw:  # HTTP/1.0 without Host: no browser sends that
        raw.sendall(b"GET /engines/status HTTP/1.0\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.1 200")


@contextlib.contextmanager
def _runner_with(monkeypatch: pytest.MonkeyPatch, **environment: str) -> Iterator[int]:
    """A runner of this test's own, started with ``environment``; yields its port."""
    port = free_port()
    monkeypatch.setenv("COMPOSE_MODELS_PORT", str(port))
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    run_cli("serve", "--detach")
    try:
        yield port
    finally:
        run_cli("stop", check=False)


def test_a_host_the_user_names_is_accepted(packaged_smollm2: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with _runner_with(monkeypatch, COMPOSE_MODELS_ALLOWED_HOSTS="models.example.lan, other.example") as port:
        named = httpx.get(f"http://127.0.0.1:{port}/api/tags", headers={"Host": f"models.example.lan:{port}"})
        assert named.status_code == 200 and LOCAL_MODEL_TAG in named.text
        assert httpx.get(f"http://127.0.0.1:{port}/api/tags", headers={"Host": "third.example"}).status_code == 403


def test_an_inference_key_may_not_manage_and_sees_only_its_own_requests(guarded_runner: str, guarded_environment) -> None:
    url = guarded_runner
    alice = bearer("alice")
    assert httpx.post(f"{url}/v1/chat/completions", json=CHAT, headers=alice, timeout=60).status_code == 200
    assert httpx.post(f"{url}/v1/chat/completions", json=CHAT, headers=bearer("bob"), timeout=60).status_code == 200

    deleted = httpx.delete(f"{url}/models/{LOCAL_MODEL_TAG}", headers=alice)
    assert deleted.status_code == 403 and "admin" in deleted.text
    assert LOCAL_MODEL_TAG in httpx.get(f"{url}/models", headers=alice).text  # nothing was deleted
    refusals = [
        ("POST", "/models/create", {"from": "ai/smollm2"}), ("POST", f"/models/{LOCAL_MODEL_TAG}/tag?repo=x&tag=y", None),
        ("POST", f"/models/{LOCAL_MODEL_TAG}/push", None), ("POST", "/engines/_configure", {"model": LOCAL_MODEL_TAG}),
        ("POST", "/engines/unload", {"models": [LOCAL_MODEL_TAG]}), ("GET", "/engines/requests", None),
        ("POST", "/api/pull", {"model": "smollm2"}), ("DELETE", "/api/delete", {"model": LOCAL_MODEL_TAG}),
        ("POST", "/api/copy", {"source": LOCAL_MODEL_TAG, "destination": "copied"}),
        ("POST", "/api/create", {"model": "created", "from": LOCAL_MODEL_TAG}), ("POST", "/api/push", {"model": LOCAL_MODEL_TAG}),
        ("HEAD", f"/api/blobs/sha256:{'0' * 64}", None), ("POST", f"/api/blobs/sha256:{'0' * 64}", None),
    ]  # fmt: skip
    for method, path, body in refusals:
        answer = httpx.request(method, f"{url}{path}", json=body, headers=alice)
        assert answer.status_code == 403, (method, path, answer.text)
    ollama = httpx.post(f"{url}/api/pull", json={"model": "smollm2"}, headers=alice)
    assert ollama.json()["error"].startswith("this key may not manage models")

    mine = httpx.get(f"{url}/ui/activity", headers=alice).json()
    assert {entry["caller"] for entry in mine["recent"]} == {"alice"}
    assert set(mine["tokens_per_minute"]["callers"]) == {"alice"}

    root = {"Authorization": f"Bearer {ADMIN_KEY}"}
    everyone = httpx.get(f"{url}/ui/activity", headers=root).json()
    assert {entry["caller"] for entry in everyone["recent"]} == {"alice", "bob"}
    assert httpx.get(f"{url}/engines/requests", headers=root).status_code == 200
    assert httpx.post(f"{url}/models/{LOCAL_MODEL_TAG}/tag?repo=local/copied&tag=1", headers=root).status_code == 201
    assert httpx.delete(f"{url}/models/local/copied:1", headers=root).status_code == 200
    # this machine's CLI holds an admin key of its own
    run_cli("unload", LOCAL_MODEL_TAG, env=guarded_environment)


def test_a_forged_forwarded_for_does_not_make_a_new_caller(packaged_smollm2: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with _runner_with(monkeypatch, COMPOSE_MODELS_REQUESTS_PER_MINUTE="3") as port:
        statuses = [
            httpx.post(
                f"http://127.0.0.1:{port}/v1/chat/completions", json=CHAT, timeout=60,
                headers={"X-Forwarded-For": f"203.0.113.{index}", "Forwarded": f"for=203.0.113.{index}"},
            ).status_code
            for index in range(5)
        ]  # fmt: skip
    assert statuses == [200, 200, 200, 429, 429]


def _status_line_before_the_body(port: int, head: bytes) -> bytes:
    """Send a request's head declaring a large body, send none of it, and read the answer's status line."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        raw.sendall(head)
        started = time.monotonic()
        answer = raw.recv(200)
        assert time.monotonic() - started < 5
        return answer.split(b"\r\n", 1)[0]


def test_a_request_without_a_key_is_refused_before_its_body_is_read(guarded_runner: str) -> None:
    port = _port(guarded_runner)
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        "Content-Length: 5000000\r\n\r\n"
    )
    assert _status_line_before_the_body(port, head.encode()) == b"HTTP/1.1 401 Unauthorized"


def test_a_rate_limited_request_is_refused_before_its_body_is_read(packaged_smollm2: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with _runner_with(monkeypatch, COMPOSE_MODELS_REQUESTS_PER_MINUTE="1") as port:
        assert httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=CHAT, timeout=60).status_code == 200
        head = (
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            "Content-Length: 5000000\r\n\r\n"
        )
        assert _status_line_before_the_body(port, head.encode()) == b"HTTP/1.1 429 Too Many Requests"


def test_metrics_name_only_models_that_exist(runner: str) -> None:
    invented = "invented-model-name-4242"
    assert httpx.post(f"{runner}/v1/chat/completions", json={**CHAT, "model": invented}).status_code == 404
    assert httpx.post(f"{runner}/v1/chat/completions", json=CHAT, timeout=60).status_code == 200
    metrics = httpx.get(f"{runner}/metrics").text
    assert invented not in metrics
    assert f'compose_models_caller_requests_total{{caller="local",model="{LOCAL_MODEL_TAG}",status="200"}}' in metrics


def test_the_state_folder_logs_and_keys_are_private(guarded_runner: str, guarded_home: Path) -> None:
    assert httpx.post(f"{guarded_runner}/v1/chat/completions", json=CHAT, headers=bearer("alice"), timeout=60).status_code == 200
    time.sleep(0.5)  # the request log's line is written just after the answer
    for folder in (guarded_home, guarded_home / "runner", guarded_home / "runner" / "logs"):
        assert folder.stat().st_mode & 0o777 == 0o700, folder
    logs = list((guarded_home / "runner" / "logs").iterdir())
    assert {path.name for path in logs} >= {"requests.jsonl", "runner.log"}
    assert any(path.name.startswith("engine-") for path in logs)
    for path in [*logs, guarded_home / "runner" / "local-api-key", guarded_home / "runner" / "state.json"]:
        assert path.stat().st_mode & 0o077 == 0, path


def test_a_keys_file_others_can_read_is_warned_of(tmp_path: Path, packaged_smollm2: str, monkeypatch: pytest.MonkeyPatch) -> None:
    keys_file = tmp_path / "api-keys"
    keys_file.write_text(f"alice: {KEYS['alice']}\n")
    keys_file.chmod(0o644)
    monkeypatch.setenv("COMPOSE_MODELS_PORT", str(free_port()))
    try:
        started = run_cli("serve", "--detach", "--api-keys", str(keys_file))
    finally:
        run_cli("stop", check=False)
    assert f"API keys file {keys_file} is readable by other users" in started.stderr
    assert started.returncode == 0
