"""The local model store (Docker Model Runner's layout), references, artifacts and packaging.

Public API::

    from compose_models.store import ModelStore, StoredModel, normalize_reference, package_gguf
    store = ModelStore.default()            # $COMPOSE_MODELS_HOME/models
    model = store.get("ai/smollm2")         # any tag spelling, full or 12-hex ID; ModelNotFound if missing
    model.gguf_paths[0], model.context_size, model.to_dmr_json(), model.openai_entry()
"""

from typing import TYPE_CHECKING

from compose_models.store.errors import ModelConflict, ModelNotFound
from compose_models.store.model import StoredModel
from compose_models.store.reference import display_name, listed_name, looks_like_id, normalize_reference, parse_reference
from compose_models.store.store import ModelStore

if TYPE_CHECKING:
    from compose_models.store.packaging import package_gguf

__all__ = [
    "ModelConflict",
    "ModelNotFound",
    "ModelStore",
    "StoredModel",
    "display_name",
    "listed_name",
    "looks_like_id",
    "normalize_reference",
    "package_gguf",
    "parse_reference",
]


def __getattr__(name: str) -> object:
    # Packaging reads GGUF headers (numpy, gguf): imported on first use, so reading the store stays quick.
    if name == "package_gguf":
        from compose_models.store.packaging import package_gguf

        return package_gguf
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
