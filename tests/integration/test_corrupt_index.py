"""A store index (``models.json``) damaged under a running runner: every API answers a 503 in its own shape
that names the file and its good backup, instead of "model not found" or a plain-text 500."""

import json
from pathlib import Path

import httpx
import pytest

from tests.conftest import LOCAL_MODEL_TAG

pytestmark = pytest.mark.model  # the runner fixture packages SmolLM2


def test_a_truncated_index_is_a_503_naming_it_in_each_api_shape(runner: str, isolated_home: Path) -> None:
    index = isolated_home / "models" / "models.json"
    backup = index.with_name("models.json.bak")
    good = index.read_text()
    assert backup.read_text() == good
    index.write_text(good[: len(good) // 2])
    restore = f"`cp {backup} {index}` restores it"
    with httpx.Client(base_url=runner, timeout=30) as client:
        hi = [{"role": "user", "content": "Hi"}]
        chat = client.post("/v1/chat/completions", json={"model": LOCAL_MODEL_TAG, "messages": hi})
        assert chat.status_code == 503, chat.text
        error = chat.json()["error"]
        assert (error["type"], error["code"]) == ("server_error", "corrupt_index")
        assert str(index) in error["message"] and restore in error["message"]
        tags = client.get("/api/tags")
        assert tags.status_code == 503 and str(index) in tags.json()["error"], tags.text
        messages = client.post("/anthropic/v1/messages", json={"model": LOCAL_MODEL_TAG, "max_tokens": 2, "messages": hi})
        assert messages.status_code == 503 and messages.json()["error"]["type"] == "api_error", messages.text
        assert str(index) in messages.json()["error"]["message"]
        listing = client.get("/models")  # Docker Model Runner's own: plain text
        assert listing.status_code == 503 and str(index) in listing.text, listing.text
    assert json.loads(backup.read_text()) == json.loads(good)  # what the index held, intact
