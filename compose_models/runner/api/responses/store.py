"""Stored responses (``store``, on by default as OpenAI has it): each Response with the items of its
conversation, one JSON file per response in its caller's folder, readable by this user only.

Bounded, since any caller may store (without keys, any container):
- one stored response (its file) takes at most ``max_bytes``; a request whose conversation alone
  would be bigger is refused before the engine is called (``check``);
- a caller's responses take at most ``caller_quota`` bytes: a new one first evicts that caller's
  oldest, never another caller's;
- when one is written, those older than ``MAX_AGE_SECONDS`` go, then the oldest beyond
  ``MAX_STORED_RESPONSES`` (of all callers).

A caller is the key (or service) the gateway let the request in under; without keys every caller is
one, ``None``, as every caller then also reads every stored response. An id is looked up only when it
has the form the runner gives ids (``resp_`` and 32 hex digits, 128 random bits), so no request names
another file. Another key's holder finds nothing, as if it had never been.
"""

import hashlib
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compose_models.errors import UserError
from compose_models.runner.api.responses.schema import RESPONSE_ID_PATTERN
from compose_models.runner.http.errors import ApiError
from compose_models.units import format_bytes, parse_size

MAX_STORED_RESPONSES = 1000
MAX_AGE_SECONDS = 30 * 24 * 3600
MAX_BYTES = 8 << 20
CALLER_QUOTA = 256 << 20
MAX_BYTES_VARIABLE = "COMPOSE_MODELS_STORED_RESPONSE_SIZE"
CALLER_QUOTA_VARIABLE = "COMPOSE_MODELS_STORED_RESPONSES_PER_CALLER"
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
    def __init__(
        self,
        folder: Path,
        max_count: int = MAX_STORED_RESPONSES,
        max_age: float = MAX_AGE_SECONDS,
        max_bytes: int = MAX_BYTES,
        caller_quota: int = CALLER_QUOTA,
    ) -> None:
        self.folder = folder
        self.max_count = max_count
        self.max_age = max_age
        self.max_bytes = max_bytes
        self.caller_quota = caller_quota
        self._writing = threading.Lock()  # saves run on worker threads; a caller's quota is counted under it

    @classmethod
    def from_environment(cls, folder: Path) -> "ResponseStore":
        """``$COMPOSE_MODELS_STORED_RESPONSE_SIZE`` (8MiB), ``$COMPOSE_MODELS_STORED_RESPONSES_PER_CALLER`` (256MiB)."""
        return cls(folder, max_bytes=_size_setting(MAX_BYTES_VARIABLE, MAX_BYTES),
                   caller_quota=_size_setting(CALLER_QUOTA_VARIABLE, CALLER_QUOTA))  # fmt: skip

    def check(self, conversation: list[dict[str, Any]], fields: dict[str, Any]) -> None:
        """Refuses (413) a response whose conversation and echoed ``fields`` alone are over a cap, before
        the engine is asked: its answer would not be stored, and the next turn would be bigger still."""
        size = len(_encoded(conversation)) + len(_encoded(fields))
        refusal = self._refusal(size)
        if refusal is not None:
            raise ApiError(413, refusal, param="previous_response_id" if fields.get("previous_response_id") else "input",
                           code="stored_response_too_large")  # fmt: skip

    def save(self, response: dict[str, Any], input_items: list[dict[str, Any]], owner: str | None = None) -> bool:
        """Stores ``response``; False (and nothing stored) when its answer took it over a cap."""
        data = _encoded({"response": response, "input_items": input_items, "owner": owner})
        if self._refusal(len(data)) is not None:
            return False
        folder = self._caller_folder(owner)
        with self._writing:
            for path in (self.folder, folder):
                path.mkdir(mode=0o700, parents=True, exist_ok=True)
                path.chmod(0o700)
            self._make_room(folder, len(data))
            path = folder / f"{response['id']}.json"
            partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(descriptor, "wb") as file:
                    file.write(data)
                os.replace(partial, path)
            except BaseException:  # a full disk: no half-written file left to hold on to the space
                partial.unlink(missing_ok=True)
                raise
            self._prune()
        return True

    def find(self, response_id: str, owner: str | None = None) -> StoredResponse | None:
        if not is_response_id(response_id):
            return None
        path = self._path(response_id, owner)
        try:
            if time.time() - path.stat().st_mtime > self.max_age:
                path.unlink(missing_ok=True)
                return None
            stored = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return None
        if stored.get("owner") != owner:
            return None
        return StoredResponse(stored["response"], stored["input_items"])

    def delete(self, response_id: str, owner: str | None = None) -> bool:
        if self.find(response_id, owner) is None:
            return False
        try:
            self._path(response_id, owner).unlink()
        except FileNotFoundError:
            return False
        return True

    def _refusal(self, size: int) -> str | None:
        for cap, what, variable in (
            (self.max_bytes, "a stored response may take", MAX_BYTES_VARIABLE),
            (self.caller_quota, "a caller's stored responses may take", CALLER_QUOTA_VARIABLE),
        ):
            if size > cap:
                return (
                    f"this response would be stored with {format_bytes(size)} of conversation, over the "
                    f"{format_bytes(cap)} {what} (${variable} on the runner raises it); send store: false, "
                    "or start a new conversation instead of continuing this one with previous_response_id"
                )
        return None

    def _caller_folder(self, owner: str | None) -> Path:
        """One folder per caller, so counting a caller's bytes reads no other caller's files."""
        name = "local" if owner is None else "key-" + hashlib.sha256(owner.encode()).hexdigest()[:32]
        return self.folder / name

    def _path(self, response_id: str, owner: str | None) -> Path:
        return self._caller_folder(owner) / f"{response_id}.json"

    def _make_room(self, folder: Path, size: int) -> None:
        """Evicts the caller's oldest responses until ``size`` more bytes fit in its quota."""
        stored = sorted(_files_with_stats(folder.glob("resp_*.json")))
        total = sum(length for _, length, _ in stored)
        for _, length, path in stored:
            if total + size <= self.caller_quota:
                break
            path.unlink(missing_ok=True)
            total -= length

    def _prune(self) -> None:
        now = time.time()
        kept: list[tuple[float, Path]] = []
        # resp_*.json directly in the folder: stored before callers had folders, no longer found
        for modified, _, path in _files_with_stats([*self.folder.glob("resp_*.json"), *self.folder.glob("*/resp_*.json")]):
            if now - modified > self.max_age or path.parent == self.folder:
                path.unlink(missing_ok=True)
            else:
                kept.append((modified, path))
        kept.sort()
        for _, path in kept[: max(0, len(kept) - self.max_count)]:
            path.unlink(missing_ok=True)


def _files_with_stats(paths: Iterable[Path]) -> list[tuple[float, int, Path]]:
    found: list[tuple[float, int, Path]] = []
    for path in paths:
        try:
            status = path.stat()
        except FileNotFoundError:  # deleted meanwhile
            continue
        found.append((status.st_mtime, status.st_size, path))
    return found


def _encoded(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _size_setting(variable: str, default: int) -> int:
    text = os.environ.get(variable)
    if not text:
        return default
    size = parse_size(text, variable)
    if size <= 0:
        raise UserError(f"{variable}: {text!r} is not a positive size (e.g. 8MiB)")
    return size
