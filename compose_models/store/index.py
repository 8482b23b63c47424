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

from compose_models.atomic_file import replace_file
from compose_models.store.errors import CorruptIndex
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
        self.backup = path.with_name(path.name + ".bak")
        self._lock = FileLock(str(path) + ".lock")

    def read(self) -> list[IndexEntry]:
        try:
            raw = self.path.read_text()
        except FileNotFoundError:
            return []
        try:
            return _entries(raw)
        except (ValueError, AttributeError, KeyError, TypeError, RecursionError) as error:
            expected = 'expected {"models": [...]}'
            raise CorruptIndex(f"{self.path} is corrupt ({error}): {expected}; {self._restore_hint()}") from None

    def _restore_hint(self) -> str:
        # Never restored here: the corrupt file may be all that tells what went wrong, so the user decides.
        try:
            _entries(self.backup.read_text())
        except (OSError, ValueError, AttributeError, KeyError, TypeError, RecursionError):
            return "there is no good backup of it: remove it and pull or package the models again"
        return f"its last good copy is {self.backup}: `cp {self.backup} {self.path}` restores it"

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
        """The index, and a copy of it as the backup: if the index is ever damaged, the backup is what it held."""
        data = go_marshal_indent({"models": [entry.to_json() for entry in entries]}, 2)
        replace_file(self.backup, data, 0o644)
        replace_file(self.path, data, 0o644)


def _entries(raw: str) -> list[IndexEntry]:
    models = json.loads(raw).get("models") or []
    return [IndexEntry(m["id"], list(m.get("tags") or []), list(m.get("files") or [])) for m in models]
