"""A new model made of parts already in the store (Ollama's ``create``): a stored model or uploaded GGUF
blobs, plus licenses, a Jinja chat template, a context size and settings, as a Docker Model Runner artifact.

Uploaded blobs become the layers as they are (same digest, no copy and no second hashing); their
layer annotations name the file the client gave, as ``package`` names the files it packages.
"""

import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compose_models.store import media_types
from compose_models.store.artifact import Layer, file_annotations
from compose_models.store.errors import InvalidArtifact
from compose_models.store.gguf_metadata import is_gguf_file, read_gguf_config
from compose_models.store.leftovers import temporary_prefix
from compose_models.store.model import StoredModel
from compose_models.store.packaging import ingest_layer, store_artifact
from compose_models.store.reference import parse_reference
from compose_models.store.store import ModelStore

SETTINGS_FIELD = "modelfile"  # the config field holding the settings; Docker Model Runner ignores it
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
Report = Callable[[str], None]
Check = Callable[[dict[str, Any]], None]  # raises UserError for a config the caller cannot accept


@dataclass(frozen=True)
class Recipe:
    """A base (``base_model``, or ``gguf_files``: file name -> digest of an uploaded blob) and what to add."""

    base_model: str | None = None
    gguf_files: dict[str, str] = field(default_factory=dict)
    context_size: int | None = None
    licenses: Sequence[str] = ()
    chat_template: str | None = None  # Jinja, which the engines apply
    settings: dict[str, Any] = field(default_factory=dict)  # replaces the base's; empty: none


def create_model(
    store: ModelStore, recipe: Recipe, target: str,
    report: Report = lambda status: None, check: Check = lambda config: None,
) -> StoredModel:  # fmt: skip
    """Build and tag the model ``recipe`` describes; ``report`` hears Ollama-style status lines, ``check``
    sees the base's config (with its GGUF metadata) before anything is written."""
    tag = str(parse_reference(target))
    with tempfile.TemporaryDirectory(dir=store.root, prefix=temporary_prefix("create")) as scratch:
        if recipe.base_model is not None:
            config, layers = _from_model(store.get(recipe.base_model), recipe)
        else:
            config, layers = _from_blobs(store, recipe.gguf_files, Path(scratch))
        check(config)
        for layer in layers:
            report(f"using existing layer {layer.digest}")
        texts = [("LICENSE", text, media_types.LICENSE) for text in recipe.licenses]
        if recipe.chat_template is not None:
            texts.append(("template.jinja", recipe.chat_template, media_types.CHAT_TEMPLATE))
        added = [_text_layer(store, Path(scratch), *text) for text in texts]
        for layer in added:
            report(f"creating new layer {layer.digest}")
        if recipe.context_size is not None:
            config["context_size"] = recipe.context_size
        config.pop(SETTINGS_FIELD, None)
        if recipe.settings:
            config[SETTINGS_FIELD] = recipe.settings
        report("writing manifest")
        return store_artifact(store, config, layers + added, tag)


def stored_settings(model: StoredModel) -> dict[str, Any]:
    """The settings a create gave the model (system prompt, parameters...); empty for other models."""
    settings = (model.config_file.get("config") or {}).get(SETTINGS_FIELD) if not model.is_cncf else None
    return settings if isinstance(settings, dict) else {}


def _from_model(model: StoredModel, recipe: Recipe) -> tuple[dict[str, Any], list[Layer]]:
    if model.is_cncf:
        raise InvalidArtifact(f"cannot create a model from {model.tags[0] if model.tags else model.id}: "
                        "it is a CNCF ModelPack artifact")  # fmt: skip
    layers = model.layers
    if recipe.chat_template is not None:  # the new template replaces the old
        layers = [layer for layer in layers if layer.media_type != media_types.CHAT_TEMPLATE]
    return dict(model.config_file.get("config") or {}), layers


def _from_blobs(store: ModelStore, files: dict[str, str], scratch: Path) -> tuple[dict[str, Any], list[Layer]]:
    if not files:
        raise InvalidArtifact("files: give at least one GGUF file (name -> sha256 digest of an uploaded blob)")
    weights: list[tuple[str, str, Path]] = []
    projectors: list[tuple[str, str, Path]] = []
    for name, digest in files.items():
        if not _FILE_NAME.fullmatch(name) or not name.lower().endswith(".gguf"):
            raise InvalidArtifact(f"files: {name!r} is not a supported file name: expected a plain name ending in .gguf "
                            "(this runner creates models from GGUF files only)")  # fmt: skip
        path = store.blobs.path(digest)  # refuses a malformed digest
        if not path.is_file():
            raise InvalidArtifact(f"files: {name}: blob {digest} not found: upload it first with POST /api/blobs/{digest}")
        if not is_gguf_file(path):
            raise InvalidArtifact(f"files: {name} (blob {digest}) is not a GGUF file: it lacks the GGUF magic bytes")
        (projectors if "mmproj" in name.lower() else weights).append((name, digest, path))
    if len(weights) != 1 or len(projectors) > 1:
        raise InvalidArtifact(f"files: expected one model GGUF (and at most one mmproj GGUF), got {', '.join(files)}")
    [(name, digest, path)] = weights
    config = read_gguf_config(path)
    layers = [_blob_layer(scratch, name, digest, path, media_types.GGUF)]
    layers += [_blob_layer(scratch, *projector, media_types.MMPROJ) for projector in projectors]
    return config, layers


def _blob_layer(scratch: Path, name: str, digest: str, path: Path, media_type: str) -> Layer:
    """The blob as a layer whose annotations describe the file ``name`` (a hard link of that name)."""
    named = scratch / name
    try:
        os.link(path, named)
    except OSError:
        named = path
    return Layer(media_type, digest, path.stat().st_size, file_annotations(named, name))


def _text_layer(store: ModelStore, scratch: Path, name: str, text: str, media_type: str) -> Layer:
    path = scratch / name
    path.unlink(missing_ok=True)
    path.write_text(text, encoding="utf-8")
    return ingest_layer(store, path, media_type)
