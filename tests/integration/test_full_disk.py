"""A full disk: a detached runner whose home (its store, its log, its stored responses, its request log)
is a small tmpfs, filled once the model is in place. Answers that need no disk still come; those that
must write say so with a 507 in the called API's shape; the runner's own log lines never break an answer."""

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import LOCAL_MODEL_TAG, cli_headers, free_port, run_cli
from tests.integration.full_disk import fill, small_tmpfs

pytestmark = pytest.mark.model
CHAT = {"model": LOCAL_MODEL_TAG, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}
RESPONSE = {"model": LOCAL_MODEL_TAG, "input": "Hi", "max_output_tokens": 2}


@pytest.fixture(scope="module")
def full_runner(tmp_path_factory: pytest.TempPathFactory, smollm2_gguf: Path) -> Iterator[tuple[str, Path]]:
    """The runner's URL, and the filler that holds its disk full."""
    with small_tmpfs(tmp_path_factory.mktemp("full-disk") / "home", 100 + (smollm2_gguf.stat().st_size >> 20)) as home:
        environment = {**os.environ, "COMPOSE_MODELS_HOME": str(home), "COMPOSE_MODELS_PORT": str(free_port())}
        run_cli("package", "--gguf", str(smollm2_gguf), LOCAL_MODEL_TAG, env=environment)
        run_cli("serve", "--detach", env=environment)
        try:
            yield f"http://127.0.0.1:{environment['COMPOSE_MODELS_PORT']}", fill(home)
        finally:
            run_cli("stop", check=False, env=environment)


def _events(response: httpx.Response) -> list[dict]:
    data = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
    return [json.loads(line) for line in data if line != "[DONE]"]


def test_answers_that_need_no_disk_still_come(full_runner: tuple[str, Path]) -> None:
    url, _ = full_runner
    with httpx.Client(base_url=url, timeout=120) as client:
        assert client.get("/v1/models").json()["data"][0]["id"].endswith(LOCAL_MODEL_TAG.removeprefix("local/"))
        assert client.post("/v1/chat/completions", json=CHAT).json()["choices"][0]["message"]["content"]
        streamed = client.post("/v1/chat/completions", json={**CHAT, "stream": True})
        assert streamed.status_code == 200 and streamed.text.rstrip().endswith("data: [DONE]")
        unstored = client.post("/v1/responses", json={**RESPONSE, "store": False})
        assert unstored.status_code == 200 and unstored.json()["output"], unstored.text
        events = _events(client.post("/v1/responses", json={**RESPONSE, "store": False, "stream": True}))
        assert events[-1]["type"] in ("response.completed", "response.incomplete"), events[-1]


def test_a_response_to_store_gets_a_507_in_the_openai_shape(full_runner: tuple[str, Path]) -> None:
    url, _ = full_runner
    with httpx.Client(base_url=url, timeout=120) as client:
        whole = client.post("/v1/responses", json=RESPONSE)
        assert whole.status_code == 507, whole.text
        error = whole.json()["error"]
        assert error["code"] == "insufficient_storage" and "No space left on device" in error["message"]
        events = _events(client.post("/v1/responses", json={**RESPONSE, "stream": True}))
        assert events[-1]["type"] == "error" and events[-1]["code"] == "insufficient_storage", events[-1]


def test_a_blob_upload_gets_a_507_in_the_ollama_shape_and_leaves_nothing(full_runner: tuple[str, Path]) -> None:
    url, filler = full_runner
    body = b"a blob that does not fit" * 100
    digest = f"sha256:{hashlib.sha256(body).hexdigest()}"
    # Sent without a Content-Length, so no room check refuses it before it is written.
    answer = httpx.post(f"{url}/api/blobs/{digest}", content=iter([body]), headers=cli_headers(filler.parent), timeout=60)
    assert answer.status_code == 507, answer.text
    assert "No space left on device" in answer.json()["error"]
    blobs = filler.parent / "models" / "blobs" / "sha256"
    assert not [path.name for path in blobs.iterdir() if path.name.startswith(".upload-")]
