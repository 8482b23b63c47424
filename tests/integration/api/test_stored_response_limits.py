"""Stored Responses cannot fill the host's disk (issue 25, item 1): a real runner with keys and small
caps, answered by the real SmolLM2 model. Only what the engine is shown is stored, a response over its
cap is refused before the engine is asked, and a caller over its quota loses its own oldest responses."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import LOCAL_MODEL_TAG
from tests.integration.api.conftest import serving_runner

pytestmark = pytest.mark.model

KEYS = {name: f"sk-{name}-responses-0123456789" for name in ("alice", "bob", "carol", "dave")}
RESPONSE_CAP, CALLER_QUOTA = 24 * 1024, 48 * 1024
PADDING = "PADDING-" + "x" * (200 * 1024)  # each request stays far under the 10 MiB body limit
# OpenAI's most metadata (16 keys of 64 characters, values of 512): stored and echoed, never shown to the engine.
BULKY_METADATA = {f"{n:02d}".ljust(64, "k"): "v" * 512 for n in range(16)}


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory, smollm2_gguf: Path) -> Iterator[tuple[str, Path]]:
    """The runner's URL and its folder of stored responses."""
    home = tmp_path_factory.mktemp("stored-response-limits")
    keys = home / "api-keys"
    keys.write_text("".join(f"{name}: {key}\n" for name, key in KEYS.items()))
    keys.chmod(0o600)
    environment = {"COMPOSE_MODELS_API_KEYS_FILE": str(keys), "COMPOSE_MODELS_STORED_RESPONSE_SIZE": f"{RESPONSE_CAP}",
                   "COMPOSE_MODELS_STORED_RESPONSES_PER_CALLER": f"{CALLER_QUOTA}"}  # fmt: skip
    with serving_runner(home, smollm2_gguf, **environment) as url:
        yield url, home / "runner" / "responses"


def _post(url: str, caller: str, body: dict) -> httpx.Response:
    headers = {"authorization": f"Bearer {KEYS[caller]}"}
    # Greedy: a sampled first token can be the end of the turn, and an empty answer is no turn of the chain.
    request = {"model": LOCAL_MODEL_TAG, "max_output_tokens": 1, "temperature": 0, **body}
    return httpx.post(f"{url}/v1/responses", json=request, headers=headers, timeout=120)


def _get(url: str, caller: str, path: str) -> httpx.Response:
    return httpx.get(f"{url}/v1/responses/{path}", headers={"authorization": f"Bearer {KEYS[caller]}"}, timeout=30)


def _stored_files(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


def test_chained_padded_requests_store_only_what_the_engine_sees(runner: tuple[str, Path]) -> None:
    """The issue's attack, scaled down: each turn sends a padded reasoning item and a padded unknown field."""
    url, folder = runner
    previous = None
    for turn in range(6):
        answer = _post(url, "alice", {"previous_response_id": previous, "input": [
            {"type": "reasoning", "id": f"rs_{turn}", "summary": [], "encrypted_content": PADDING},
            {"role": "user", "content": [{"type": "input_text", "text": f"Turn {turn}.", "padding": PADDING}],
             "padding": PADDING},
        ]})  # fmt: skip
        assert answer.status_code == 200, answer.text
        previous = answer.json()["id"]
    stored = _stored_files(folder)
    assert len(stored) == 6 and sum(path.stat().st_size for path in stored) < 64 * 1024
    assert not any(b"PADDING-" in path.read_bytes() for path in stored)
    # Chaining still carries the conversation: six questions, and the answers between them.
    listed = _get(url, "alice", f"{previous}/input_items?order=asc&limit=100").json()["data"]
    assert [item["role"] for item in listed] == ["user", "assistant"] * 5 + ["user"]
    assert [item["content"][0]["text"] for item in listed[::2]] == [f"Turn {turn}." for turn in range(6)]
    assert "padding" not in listed[0] and "padding" not in listed[0]["content"][0]


def test_a_response_over_its_cap_is_refused_before_the_engine_in_openais_shape(runner: tuple[str, Path]) -> None:
    url, _ = runner
    answer = _post(url, "bob", {"input": "hello " * (RESPONSE_CAP // 6 + 1)})
    assert answer.status_code == 413
    error = answer.json()["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "stored_response_too_large"
    assert error["param"] == "input" and "$COMPOSE_MODELS_STORED_RESPONSE_SIZE" in error["message"]
    assert "24.0 KiB" in error["message"] and "store: false" in error["message"]
    assert httpx.get(f"{url}/engines/status", timeout=10).status_code == 200


def test_a_caller_over_its_quota_loses_its_own_oldest_responses_only(runner: tuple[str, Path]) -> None:
    url, _ = runner
    first = _post(url, "dave", {"input": "Hi.", "metadata": BULKY_METADATA})
    assert first.status_code == 200, first.text
    made = []
    for turn in range(6):  # about 11 KiB each, against a quota of 48 KiB
        answer = _post(url, "carol", {"input": f"Hi {turn}.", "metadata": BULKY_METADATA})
        assert answer.status_code == 200, answer.text
        made.append(answer.json()["id"])
    kept = [_get(url, "carol", response_id).status_code == 200 for response_id in made]
    assert kept == [False, False, True, True, True, True]  # the oldest went first
    assert _get(url, "dave", first.json()["id"]).status_code == 200  # older than all of carol's, and kept
