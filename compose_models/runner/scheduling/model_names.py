"""How the runner finds models by the names clients send, and names them in answers, metrics and records."""

from collections.abc import Sequence
from typing import Protocol

from compose_models.errors import UserError
from compose_models.store.model import StoredModel
from compose_models.store.reference import display_name
from compose_models.store.store import ModelStore


class NamedModel(Protocol):
    id: str
    tags: Sequence[str]


class RunnerModelStore(ModelStore):
    """The store as the HTTP API sees it: a name that is not a valid reference finds no model (404),
    rather than being an error of its own."""

    def find(self, reference: str) -> StoredModel | None:
        try:
            return super().find(reference)
        except UserError:
            return None


def model_label(model: NamedModel) -> str:
    """The first tag as ``docker model ls`` shows it, else the short ID."""
    if model.tags:
        return display_name(model.tags[0])
    return model.id.removeprefix("sha256:")[:12]
