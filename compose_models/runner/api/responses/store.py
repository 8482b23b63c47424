"""Stored responses (``store``, on by default as OpenAI has it): each Response with the items of its
conversation, one JSON file per response in the runner's folder, readable by this user only.

Bounded: when one is written, those older than ``MAX_AGE_SECONDS`` go, then the oldest beyond
``MAX_STORED_RESPONSES``. An id is looked up only when it has the form the runner gives ids
(``resp_`` and 32 hex digits, 128 random bits), so no request names another file. Each belongs to
the key (or service) that created it: another key's holder finds nothing, as if it had never been.
"""

import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compose_models.runner.api.responses.schema import RESPONSE_ID_PATTERN

MAX_STORED_RESPONSES = 1000
MAX_AGE_SECONDS = 30 * 24 * 3600
_ID = re.compile(RESPONSE_ID_PATTERN)


def new_response_id() -> str:
    return f"resp_{secrets.token_hex(16)}"


def is_response_id(value: str) -> bool:
    return _ID.fullmatch(value) is not None


@dataclass(frozen=True)
class StoredResponse:
    response: dict[str, Any]
    input_items: list[dict[str, Any]]  # the whole conversation up to this response's answer

    @property
    def conversation(self) -> list[dict[str, Any]]:
        """What a response that follows this one continues: its input, then its output."""
        return [*self.input_items, *self.response.get("output", [])]


class ResponseStore:
    def __init__(self, folder: Path, max_count: int = MAX_STORED_RESPONSES, max_age: float = MAX_AGE_SECONDS) -> None:
        self.folder = folder
        self.max_count = max_count
        self.max_age = max_age

    def save(self, response: dict[str, Any], input_items: list[dict[str, Any]], owner: str | None = None) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.folder.chmod(0o700)
        path = self._path(response["id"])
        partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w") as file:
                json.dump({"response": response, "input_items": input_items, "owner": owner}, file)
            os.replace(partial, path)
        except BaseException:  # a full disk leaves no half-written file behind
            partial.unlink(missing_ok=True)
            raise
        self._prune()

    def find(self, response_id: str, owner: str | None = None) -> StoredResponse | None:
        if not is_response_id(response_id):
            return None
        path = self._path(response_id)
        try:
            if time.time() - path.stat().st_mtime > self.max_age:
                path.unlink(missing_ok=True)
                return None
            stored = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if stored.get("owner") != owner:
            return None
        return StoredResponse(stored["response"], stored["input_items"])

    def delete(self, response_id: str, owner: str | None = None) -> bool:
        if self.find(response_id, owner) is None:
            return False
        try:
            self._path(response_id).unlink()
        except FileNotFoundError:
            return False
        return True

    def _path(self, response_id: str) -> Path:
        return self.folder / f"{response_id}.json"

    def _prune(self) -> None:
        now = time.time()
        kept: list[tuple[float, Path]] = []
        for path in self.folder.glob("resp_*.json"):
            try:
                modified = path.stat().st_mtime
            except FileNotFoundError:  # deleted meanwhile
                continue
            if now - modified > self.max_age:
                path.unlink(missing_ok=True)
            else:
                kept.append((modified, path))
        kept.sort()
        for _, path in kept[: max(0, len(kept) - self.max_count)]:
            path.unlink(missing_ok=True)
