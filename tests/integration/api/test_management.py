"""Docker Model Runner's management routes, metrics, request records and CORS, on the shared runner."""

import json
import os
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import LOCAL_MODEL_TAG, require, run_cli
from tests.integration.api.conftest import ALLOWED_ORIGIN
from tests.integration.store.local_registry import REGISTRY_BINARY, running_registry
from tests.unit.store.ggufs import write_gguf

pytestmark = pytest.mark.model

FULL_TAG = "docker.io/local/smollm2:135m-q4_1"


def chat(runner: str, max_tokens: int = 2, stream: bool = False) -> httpx.Response:
    body = {"model": LOCAL_MODEL_TAG, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": max_tokens, "stream": stream}
    return httpx.post(f"{runner}/engines/v1/chat/completions", json=body, timeout=60)


def test_root_version_status_df(api_runner: str) -> None:
    assert "running" in httpx.get(api_runner).text
    assert httpx.get(f"{api_runner}/version").json()["version"]
    assert httpx.get(f"{api_runner}/engines/status").json()["llama.cpp"].startswith("Running")
    assert httpx.get(f"{api_runner}/engines/df").json()["models_disk_usage"] > 90_000_000
    missing = httpx.get(f"{api_runner}/no/such/route")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/plain")


def test_models_get_tag_delete(api_runner: str, manage: dict[str, str]) -> None:
    [listed] = httpx.get(f"{api_runner}/models").json()
    assert listed["tags"] == [FULL_TAG] and listed["config"]["format"] == "gguf"
    assert httpx.get(f"{api_runner}/models/{LOCAL_MODEL_TAG}").json()["id"] == listed["id"]
    assert httpx.get(f"{api_runner}/models/smollm2:135m-q4_1").json()["id"] == listed["id"]  # bare-name lookup
    tagged = httpx.post(f"{api_runner}/models/{LOCAL_MODEL_TAG}/tag", params={"repo": "local/alias", "tag": "v1"}, headers=manage)
    assert tagged.status_code == 201 and tagged.json()["target"] == "local/alias:v1"
    assert httpx.delete(f"{api_runner}/models/local/alias:v1", headers=manage).json() == [{"Untagged": "docker.io/local/alias:v1"}]
    assert httpx.get(f"{api_runner}/models/local/alias:v1").status_code == 404
    assert httpx.post(f"{api_runner}/models/{LOCAL_MODEL_TAG}/tag", headers=manage).status_code == 400
    unknown = httpx.post(f"{api_runner}/models/{LOCAL_MODEL_TAG}/frobnicate")
    assert unknown.status_code == 404 and unknown.text.strip() == 'unknown action "frobnicate"'


def test_configure_ps_unload(api_runner: str, manage: dict[str, str]) -> None:
    accepted = httpx.post(f"{api_runner}/engines/_configure", json={"model": LOCAL_MODEL_TAG, "keep_alive": "10m"}, headers=manage)
    assert accepted.status_code == 202
    [entry] = httpx.get(f"{api_runner}/engines/_configure", params={"model": LOCAL_MODEL_TAG}).json()
    assert entry["Config"]["keep_alive"] == "10m0s" and entry["ModelID"].startswith("sha256:")
    bad = httpx.post(f"{api_runner}/engines/_configure", json={"model": LOCAL_MODEL_TAG, "keep_alive": "soon"}, headers=manage)
    assert bad.status_code == 400
    assert chat(api_runner).status_code == 200
    assert LOCAL_MODEL_TAG in [engine["model_name"] for engine in httpx.get(f"{api_runner}/engines/ps").json()]
    assert httpx.post(f"{api_runner}/engines/unload", json={"models": [LOCAL_MODEL_TAG]}, headers=manage).json()["unloaded_runners"] >= 1
    assert httpx.get(f"{api_runner}/engines/ps").json() == []


def test_metrics(api_runner: str) -> None:
    chat(api_runner, stream=True)
    text = httpx.get(f"{api_runner}/metrics").text
    label = 'model="local/smollm2:135m-q4_1"'
    assert f'compose_models_requests_total{{api="openai",{label},status="200"}}' in text
    assert f"compose_models_time_to_first_token_seconds_count{{{label}}}" in text
    assert f"compose_models_completion_tokens_total{{{label}}}" in text
    assert "compose_models_request_duration_seconds_bucket" in text
    assert f'compose_models_loaded_models{{backend="llama.cpp",mode="completion",{label}}} 1.0' in text


def test_request_records_and_their_follow_mode(api_runner: str, manage: dict[str, str]) -> None:
    chat(api_runner, max_tokens=1)
    [group] = httpx.get(f"{api_runner}/engines/requests", params={"model": "local/smollm2:135m-q4_1"}, headers=manage).json()
    last = group["records"][-1]
    assert last["url"] == "/engines/v1/chat/completions" and last["status_code"] == 200 and last["origin"] == "openai"
    assert json.loads(last["request"])["max_tokens"] == 1 and "chat.completion" in last["response"]
    headers = {"accept": "text/event-stream", **manage}
    with httpx.stream("GET", f"{api_runner}/engines/requests?include_existing=true", headers=headers, timeout=10) as events:
        lines = events.iter_lines()
        assert next(lines) == "event: connected"
        assert next(lines).startswith("data:") and next(lines) == ""
        assert next(lines) == "event: new_request"
        assert json.loads(next(lines).removeprefix("data: "))[0]["count"] == 1


def test_a_client_that_hangs_up_releases_the_engine(api_runner: str, manage: dict[str, str]) -> None:
    body = {"model": LOCAL_MODEL_TAG, "prompt": "Once upon a time", "max_tokens": 4000,
            "logit_bias": {"2": -100}}  # SmolLM2's end-of-text token: it would write all 4000 tokens
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{api_runner}/v1/completions", json=body, timeout=1.5)
    deadline = time.monotonic() + 10
    while any(engine.get("in_use") for engine in httpx.get(f"{api_runner}/engines/ps").json()):
        assert time.monotonic() < deadline, "the engine is still held for a client that has gone"
        time.sleep(0.2)
    [group] = httpx.get(f"{api_runner}/engines/requests", params={"model": LOCAL_MODEL_TAG}, headers=manage).json()
    assert group["records"][-1]["status_code"] == 499


def test_cors(api_runner: str) -> None:
    assert httpx.get(f"{api_runner}/engines/v1/models").status_code == 200
    local = httpx.get(f"{api_runner}/engines/v1/models", headers={"origin": "http://localhost:5173"})
    assert local.headers["access-control-allow-origin"] == "http://localhost:5173"
    configured = httpx.get(f"{api_runner}/api/tags", headers={"origin": ALLOWED_ORIGIN})
    assert configured.status_code == 200 and configured.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert httpx.get(f"{api_runner}/engines/v1/models", headers={"origin": "https://evil.example"}).status_code == 403
    preflight = httpx.options(
        f"{api_runner}/v1/chat/completions",
        headers={"origin": "http://127.0.0.1:8080", "access-control-request-method": "POST"},
    )
    assert preflight.status_code == 204 and "POST" in preflight.headers["access-control-allow-methods"]


def test_push_then_pull_with_streamed_progress(api_runner: str, api_home: Path, manage: dict[str, str], tmp_path: Path) -> None:
    require(Path(REGISTRY_BINARY).is_file(), f"{REGISTRY_BINARY} (apt-get install docker-registry)", linux_only=True)
    env = {**os.environ, "COMPOSE_MODELS_HOME": str(api_home)}
    run_cli("package", "--gguf", str(write_gguf(tmp_path / "tiny.gguf")), "local/tiny:v1", env=env)
    (tmp_path / "registry").mkdir()
    with running_registry(tmp_path / "registry") as registry:
        remote = f"{registry}/team/tiny:v1"
        assert httpx.post(f"{api_runner}/models/local/tiny:v1/tag", params={"repo": f"{registry}/team/tiny", "tag": "v1"}, headers=manage).status_code == 201
        pushed = httpx.post(f"{api_runner}/models/{remote}/push", headers={"accept": "application/json", **manage}, timeout=60)
        assert pushed.headers["content-type"].startswith("application/json")
        assert json.loads(pushed.text.splitlines()[-1]) == {"type": "success", "message": "Model pushed successfully"}
        remote_manifest = httpx.get(f"{api_runner}/models/{remote}", params={"remote": "true"}, headers=manage)  # management
        assert remote_manifest.json()["config"]["format"] == "gguf"
        for tag in ("local/tiny:v1", remote):
            httpx.delete(f"{api_runner}/models/{tag}", headers=manage)
        pulled = httpx.post(f"{api_runner}/models/create", json={"from": remote}, headers=manage, timeout=60)
        lines = [json.loads(line) for line in pulled.text.splitlines()]
        assert lines[0]["type"] == "progress" and lines[0]["mode"] == "pull" and lines[0]["layer"]["id"].startswith("sha256:")
        assert lines[-1] == {"type": "success", "message": "Model pulled successfully"}
        httpx.delete(f"{api_runner}/models/{remote}", headers=manage)
        statuses = [json.loads(line) for line in httpx.post(f"{api_runner}/api/pull", json={"model": remote}, headers=manage, timeout=60).text.splitlines()]
        assert statuses[0] == {"status": "pulling manifest"} and statuses[-1] == {"status": "success"}
        assert any(status.get("completed") == status.get("total") for status in statuses if "digest" in status)
        httpx.delete(f"{api_runner}/models/{remote}", headers=manage)
        missing = httpx.post(f"{api_runner}/models/create", json={"from": f"{registry}/team/absent:v1"}, headers=manage)
        assert missing.status_code == 404


def test_the_model_has_one_name_in_the_openai_ollama_and_dmr_listings(api_runner: str) -> None:
    """Open WebUI, given the runner as both its Ollama and its OpenAI connection, showed the model twice."""
    openai_ids = {model["id"] for prefix in ("/v1", "/engines/v1") for model in httpx.get(f"{api_runner}{prefix}/models").json()["data"]}
    ollama_names = {model["name"] for model in httpx.get(f"{api_runner}/api/tags").json()["models"]}
    assert openai_ids == ollama_names == {LOCAL_MODEL_TAG}
    [stored] = httpx.get(f"{api_runner}/models").json()
    assert stored["tags"] == [FULL_TAG]  # DMR's own listing keeps the stored, fully qualified tag, as DMR does
    chat(api_runner, max_tokens=1)
    assert {model["name"] for model in httpx.get(f"{api_runner}/api/ps").json()["models"]} == {LOCAL_MODEL_TAG}
    for spelling in (LOCAL_MODEL_TAG, FULL_TAG):  # both spellings are still taken in requests
        body = {"model": spelling, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1}
        assert httpx.post(f"{api_runner}/v1/chat/completions", json=body, timeout=60).status_code == 200


def test_a_stream_the_client_cut_off_is_logged_as_cut_off_with_its_tokens(
    api_runner: str, api_home: Path, manage: dict[str, str]
) -> None:
    body = {"model": LOCAL_MODEL_TAG, "messages": [{"role": "user", "content": "Tell me a long story."}],
            "max_tokens": 400, "stream": True, "logit_bias": {"2": -100}}  # no end-of-text: it would write all 400
    with httpx.stream("POST", f"{api_runner}/v1/chat/completions", json=body, timeout=60) as response:
        chunks = response.iter_lines()
        data = [line for line in (next(chunks) for _ in range(6)) if line.startswith("data:")]
        assert len(data) >= 2
    deadline = time.monotonic() + 10
    while True:
        records = httpx.get(f"{api_runner}/engines/requests", params={"model": LOCAL_MODEL_TAG}, headers=manage)
        [group] = records.json()  # others' request records are management
        last = group["records"][-1]
        if last["status_code"] == 499 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert last["status_code"] == 499 and last["url"] == "/v1/chat/completions", last
    assert last["error"].startswith("cut off: the client closed the stream after ")
    assert int(last["error"].split(" after ")[1].split()[0]) > 0
    logged = [json.loads(line) for line in (api_home / "runner" / "logs" / "requests.jsonl").read_text().splitlines()]
    entry = logged[-1]
    assert entry["status"] == 499 and entry["cut_off"] is True and entry["completion_tokens"] > 0, entry
