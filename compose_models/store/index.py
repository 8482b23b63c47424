"""``models.json``: which manifests the store holds, their tags and blobs.

Every change is read-modify-write under an exclusive file lock, and the file is replaced atomically,
so concurrent processes neither corrupt it nor lose each other's tags.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock

from compose_models.errors import UserError
from compose_models.store.atomic import write_atomic
from compose_models.store.gojson import go_marshal_indent


@dataclass
class IndexEntry:
    id: str
    tags: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "tags": self.tags, "files": self.files}


class ModelIndex:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = FileLock(str(path) + ".lock")

    def read(self) -> list[IndexEntry]:
        try:
            raw = self.path.read_text()
        except FileNotFoundError:
            return []
        try:
            models = json.loads(raw).get("models") or []
            return [IndexEntry(m["id"], list(m.get("tags") or []), list(m.get("files") or [])) for m in models]
        except (ValueError, AttributeError, KeyError, TypeError) as error:
            raise UserError(f"{self.path} is corrupt ({error}): expected {{\"models\": [...]}}") from error

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the index lock (re-entrant within a process) across several reads and writes."""
        with self._lock:
            yield

    @contextmanager
    def update(self) -> Iterator[list[IndexEntry]]:
        """Yield the entries for in-place change under the lock; written back when the block succeeds."""
        with self._lock:
            entries = self.read()
            yield entries
            self.write(entries)

    def write(self, entries: list[IndexEntry]) -> None:
        data = go_marshal_indent({"models": [entry.to_json() for entry in entries]}, 2)
        write_atomic(self.path, data)
