"""How the runner finds models by the names clients send, and names them in answers, metrics and records."""

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from compose_models.errors import UserError
from compose_models.runner.http.errors import api_error
from compose_models.store.errors import CorruptIndex
from compose_models.store.index import IndexEntry, ModelIndex
from compose_models.store.model import StoredModel
from compose_models.store.reference import display_name
from compose_models.store.store import ModelStore

_REMEMBERED_NAMES = 256


class NamedModel(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def tags(self) -> Sequence[str]: ...


class RunnerModelStore(ModelStore):
    """The store as the HTTP API sees it: a name that is not a valid reference finds no model (404),
    rather than being an error of its own.

    What names find is remembered until ``models.json`` changes (a pull, tag or removal, by this
    process or another), so a request costs one ``stat`` rather than reading the index and manifest."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.index = _ServedIndex(self.index.path)
        self._index_stamp: tuple[int, int, int] | None = None
        self._found: dict[str, StoredModel | None] = {}

    def find(self, reference: str) -> StoredModel | None:
        self._forget_if_changed()
        if reference in self._found:
            return self._found[reference]
        try:
            model = super().find(reference)
        except UserError:
            model = None
        if len(self._found) >= _REMEMBERED_NAMES:  # names come from requests: keep the memory bounded
            self._found.clear()
        self._found[reference] = model
        return model

    def _forget_if_changed(self) -> None:
        try:
            status = os.stat(self.index.path)
            stamp = (status.st_ino, status.st_mtime_ns, status.st_size)
        except OSError:
            stamp = None
        if stamp != self._index_stamp:
            self._index_stamp = stamp
            self._found.clear()


class _ServedIndex(ModelIndex):
    """A corrupt index is the runner's fault, not the request's: a 503 naming the file (and its backup), in the
    called API's shape, rather than "model not found" or a plain-text 500."""

    def read(self) -> list[IndexEntry]:
        try:
            return super().read()
        except CorruptIndex as error:  # by hand, as the table answers it: an ApiError passes the handlers' `except UserError`
            raise api_error(error) from None


def model_label(model: NamedModel) -> str:
    """The first tag as ``docker model ls`` shows it, else the short ID."""
    if model.tags:
        return display_name(model.tags[0])
    return model.id.removeprefix("sha256:")[:12]
