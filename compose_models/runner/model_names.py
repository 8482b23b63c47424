"""How the runner names a model in answers, metrics and records."""

from collections.abc import Sequence
from typing import Protocol

from compose_models.store.reference import display_name


class NamedModel(Protocol):
    id: str
    tags: Sequence[str]


def model_label(model: NamedModel) -> str:
    """The first tag as ``docker model ls`` shows it, else the short ID."""
    if model.tags:
        return display_name(model.tags[0])
    return model.id.removeprefix("sha256:")[:12]
