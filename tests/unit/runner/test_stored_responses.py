"""The store of Responses: private files, bounded in count and age, and only ids the runner makes are looked up."""

import os
import time
from pathlib import Path

from compose_models.runner.api.responses.store import ResponseStore, new_response_id


def _saved(store: ResponseStore, age: float = 0.0) -> str:
    response_id = new_response_id()
    store.save({"id": response_id, "output": [{"type": "message", "id": "msg_1"}]}, [{"type": "message", "id": "msg_0"}])
    if age:
        then = time.time() - age
        os.utime(store.folder / "local" / f"{response_id}.json", (then, then))
    return response_id


def test_a_stored_response_is_private_and_continues_its_conversation(tmp_path: Path) -> None:
    store = ResponseStore(tmp_path / "responses")
    response_id = _saved(store)
    caller = store.folder / "local"
    assert (store.folder.stat().st_mode & 0o777) == 0o700 and (caller.stat().st_mode & 0o777) == 0o700
    assert [(path.name, path.stat().st_mode & 0o777) for path in caller.iterdir()] == [(f"{response_id}.json", 0o600)]
    assert [item["id"] for item in store.find(response_id).conversation] == ["msg_0", "msg_1"]
    assert store.delete(response_id) and store.find(response_id) is None and not store.delete(response_id)


def test_writes_prune_the_oldest_beyond_the_count_and_those_past_the_age(tmp_path: Path) -> None:
    store = ResponseStore(tmp_path / "responses", max_count=2, max_age=3600)
    expired = _saved(store, age=7200)
    oldest, middle = _saved(store, age=30), _saved(store, age=20)
    newest = _saved(store)
    assert [store.find(i) is not None for i in (expired, oldest, middle, newest)] == [False, False, True, True]


def test_an_expired_response_is_not_found_before_any_write(tmp_path: Path) -> None:
    store = ResponseStore(tmp_path / "responses", max_age=3600)
    response_id = _saved(store, age=7200)
    assert store.find(response_id) is None and not list((store.folder / "local").iterdir())


def test_only_ids_of_the_runners_form_are_looked_up(tmp_path: Path) -> None:
    store = ResponseStore(tmp_path / "responses")
    outside = tmp_path / "secret.json"
    outside.write_text('{"response": {}, "input_items": []}')
    for name in ("../secret", "resp_../../secret", "resp_" + "A" * 32, "resp_" + "0" * 31, "resp_" + "0" * 32 + "\n"):
        assert store.find(name) is None and not store.delete(name)
    assert outside.exists()


def test_an_answer_that_takes_a_response_over_its_cap_is_not_stored(tmp_path: Path) -> None:
    store = ResponseStore(tmp_path / "responses", max_bytes=4096)
    response_id = new_response_id()
    answer = {"type": "message", "id": "msg_1", "content": [{"type": "output_text", "text": "x" * 4096}]}
    assert not store.save({"id": response_id, "output": [answer]}, [{"type": "message", "id": "msg_0"}])
    assert store.find(response_id) is None and not store.folder.exists()


def test_responses_stored_before_callers_had_folders_are_removed_at_the_next_write(tmp_path: Path) -> None:
    store = ResponseStore(tmp_path / "responses")
    store.folder.mkdir()
    legacy = store.folder / f"{new_response_id()}.json"
    legacy.write_text('{"response": {}, "input_items": [], "owner": null}')
    _saved(store)
    assert not legacy.exists()
