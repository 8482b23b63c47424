"""API keys, limits and the request log on a real runner with SmolLM2."""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import LOCAL_MODEL_TAG, free_port, run_cli
from tests.integration.gateway.conftest import KEYS, REQUESTS_PER_MINUTE, bearer, request_log

CHAT = {"model": LOCAL_MODEL_TAG, "max_tokens": 2, "messages": [{"role": "user", "content": "Hi"}]}
LOG_FIELDS = {
    "time", "request_id", "caller", "caller_kind", "project", "service", "container", "address", "route",
    "model", "status", "prompt_tokens", "completion_tokens", "time_to_first_token", "duration", "cut_off",
}


def test_without_a_valid_key_each_api_answers_401_in_its_own_shape_and_this_machines_cli_has_one(
    guarded_runner: str, isolated_home
) -> None:
    openai = httpx.post(f"{guarded_runner}/engines/v1/chat/completions", json=CHAT)
    assert openai.status_code == 401
    assert openai.json()["error"]["type"] == "authentication_error"
    anthropic_body = {"model": LOCAL_MODEL_TAG, "max_tokens": 2, "messages": [{"role": "user", "content": "Hi"}]}
    anthropic = httpx.post(f"{guarded_runner}/anthropic/v1/messages", json=anthropic_body, headers={"x-api-key": "wrong"})
    assert anthropic.status_code == 401
    assert anthropic.json()["type"] == "error" and anthropic.json()["error"]["type"] == "authentication_error"
    ollama = httpx.post(f"{guarded_runner}/api/chat", json={**CHAT, "stream": False}, headers={"Authorization": "Bearer nope"})
    assert ollama.status_code == 401 and isinstance(ollama.json()["error"], str)
    assert httpx.get(f"{guarded_runner}/engines/ps").status_code == 401
    assert httpx.get(f"{guarded_runner}/engines/status").status_code == 200  # the CLI's health check stays open

    by_bearer = httpx.post(f"{guarded_runner}/engines/v1/chat/completions", json=CHAT, headers=bearer("alice"), timeout=60)
    assert by_bearer.status_code == 200 and by_bearer.headers["x-request-id"]
    by_header = httpx.post(
        f"{guarded_runner}/anthropic/v1/messages", json=anthropic_body,
        headers={"x-api-key": KEYS["bob"], "x-request-id": "my-id-1"}, timeout=60,
    )
    assert by_header.status_code == 200 and by_header.headers["x-request-id"] == "my-id-1"

    run_cli("configure", LOCAL_MODEL_TAG, "--", "--n-predict", "16")  # `run` asks for no max_tokens: bounded here
    run_cli("run", LOCAL_MODEL_TAG, "Say hi")
    assert LOCAL_MODEL_TAG in run_cli("ps", "--json").stdout
    assert request_log(isolated_home, 3)[-1]["caller"] == "local-cli"
    assert (isolated_home / "runner" / "local-api-key").stat().st_mode & 0o077 == 0


def test_limit_holds_exactly_under_16_concurrent_callers_and_every_request_is_answered_once(
    guarded_runner: str, isolated_home
) -> None:
    requests = [(name, f"{name}-{index}-{uuid.uuid4().hex[:6]}") for index in range(16) for name in KEYS]
    start = threading.Barrier(16)

    def caller(pair: list[tuple[str, str]]) -> list[tuple[str, str, httpx.Response]]:
        answers = []
        with httpx.Client(base_url=guarded_runner, timeout=120) as client:
            start.wait()
            for name, request_id in pair:
                headers = {**bearer(name), "x-request-id": request_id}
                answers.append((name, request_id, client.post("/engines/v1/chat/completions", json=CHAT, headers=headers)))
        return answers

    with ThreadPoolExecutor(16) as pool:
        answers = [answer for batch in pool.map(caller, [requests[i::16] for i in range(16)]) for answer in batch]

    assert len(answers) == len(requests) == 32
    for name in KEYS:
        statuses = sorted(response.status_code for caller_name, _, response in answers if caller_name == name)
        assert statuses == [200] * REQUESTS_PER_MINUTE + [429] * (16 - REQUESTS_PER_MINUTE)
    for _, request_id, response in answers:
        assert response.headers["x-request-id"] == request_id
        if response.status_code == 429:
            assert response.json()["error"]["type"] == "rate_limit_error"
            assert 1 <= int(response.headers["retry-after"]) <= 60

    logged = request_log(isolated_home, len(requests))
    assert sorted(entry["request_id"] for entry in logged) == sorted(request_id for _, request_id in requests)
    statuses = {request_id: response.status_code for _, request_id, response in answers}
    for entry in logged:
        assert set(entry) == LOG_FIELDS
        assert entry["status"] == statuses[entry["request_id"]] and entry["cut_off"] is False
        assert entry["caller"] == entry["request_id"].split("-")[0] and entry["caller_kind"] == "key"
        assert entry["route"] == "/engines/v1/chat/completions"
        # A refused request's body is not read, so which model it named is not known.
        assert entry["model"] == (LOCAL_MODEL_TAG if entry["status"] == 200 else None)
        if entry["status"] == 200:
            assert entry["prompt_tokens"] > 0 and entry["completion_tokens"] > 0
            assert 0 < entry["time_to_first_token"] <= entry["duration"]

    metrics = httpx.get(f"{guarded_runner}/metrics", headers=bearer("alice")).text
    for name in KEYS:
        assert f'compose_models_caller_requests_total{{caller="{name}",model="",status="429"}} 6.0' in metrics


def test_streams_are_logged_with_their_tokens_in_every_api(guarded_runner: str, isolated_home) -> None:
    prompt = [{"role": "user", "content": "Count to five"}]
    streams = {
        "/engines/v1/chat/completions": {
            "model": LOCAL_MODEL_TAG, "max_tokens": 8, "stream": True, "messages": prompt,
            "stream_options": {"include_usage": True},
        },
        "/anthropic/v1/messages": {"model": LOCAL_MODEL_TAG, "max_tokens": 8, "stream": True, "messages": prompt},
        "/api/chat": {"model": LOCAL_MODEL_TAG, "stream": True, "messages": prompt, "options": {"num_predict": 8}},
    }
    for route, body in streams.items():
        with httpx.stream("POST", f"{guarded_runner}{route}", json=body, headers=bearer("bob"), timeout=60) as response:
            assert response.status_code == 200
            assert len(list(response.iter_lines())) > 2  # streamed, not one buffered body

    without_usage = {**streams["/engines/v1/chat/completions"], "stream_options": None}
    with httpx.stream("POST", f"{guarded_runner}/v1/chat/completions", json=without_usage, headers=bearer("bob"), timeout=60) as response:
        assert len(list(response.iter_lines())) > 2

    logged = {entry["route"]: entry for entry in request_log(isolated_home, 4)}
    assert logged["/v1/chat/completions"]["prompt_tokens"] > 0  # the engine counted them, though the client did not ask for usage
    assert 0 < logged["/v1/chat/completions"]["completion_tokens"] <= 8
    for route in streams:
        entry = logged[route]
        assert entry["caller"] == "bob" and entry["status"] == 200
        assert entry["prompt_tokens"] > 0 and 0 < entry["completion_tokens"] <= 8
        assert entry["time_to_first_token"] < entry["duration"]
    printed = run_cli("logs", "--requests").stdout.splitlines()
    assert len(printed) == 4 and all('"caller":"bob"' in line for line in printed)


def test_serve_on_all_addresses_needs_keys(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COMPOSE_MODELS_PORT", str(free_port()))
    refused = run_cli("serve", "--host", "0.0.0.0", check=False)
    assert refused.returncode != 0 and "without API keys" in refused.stderr
    keys_file = tmp_path / "keys"
    keys_file.write_text(f"alice: {KEYS['alice']}\n")
    try:
        run_cli("serve", "--detach", "--host", "0.0.0.0", "--api-keys", str(keys_file))
        assert "running" in run_cli("status").stdout
    finally:
        run_cli("stop", check=False)
