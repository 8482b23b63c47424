"""``package``: turn local files into a model artifact in the store, as ``docker model package`` does."""

from collections.abc import Sequence
from pathlib import Path

from compose_models.errors import UserError
from compose_models.store import media_types
from compose_models.store.artifact import Layer, file_annotations, manifest_bytes, new_config_blob
from compose_models.store.blobs import sha256_digest
from compose_models.store.gguf_metadata import discover_shards, is_gguf_file, read_gguf_config
from compose_models.store.model import StoredModel
from compose_models.store.reference import parse_reference
from compose_models.store.store import ModelStore


def package_gguf(
    store: ModelStore,
    gguf_path: Path,
    target: str,
    context_size: int | None = None,
    licenses: Sequence[Path] = (),
    chat_template: Path | None = None,
    mmproj: Path | None = None,
) -> StoredModel:
    """Package a GGUF (the first shard of a split one) with optional extra files, tagged ``target``."""
    tag = str(parse_reference(target))
    gguf_path = _existing_file(gguf_path, "--gguf")
    if not is_gguf_file(gguf_path):
        raise UserError(f"--gguf {gguf_path} is not a GGUF file: it does not start with the GGUF magic bytes")
    extras = [(_existing_file(path, "--license"), media_types.LICENSE) for path in licenses]
    if chat_template is not None:
        extras.append((_existing_file(chat_template, "--chat-template"), media_types.CHAT_TEMPLATE))
    if mmproj is not None:
        extras.append((_existing_file(mmproj, "--mmproj"), media_types.MMPROJ))
    if context_size is not None and context_size <= 0:
        raise UserError(f"--context-size must be a positive number of tokens, got {context_size}")

    shards = discover_shards(gguf_path)
    config = read_gguf_config(shards[0])
    if context_size is not None:
        config["context_size"] = context_size
    layers = [ingest_layer(store, shard, media_types.GGUF) for shard in shards]
    layers += [ingest_layer(store, path, media_type) for path, media_type in extras]
    return store_artifact(store, config, layers, tag)


def ingest_layer(store: ModelStore, path: Path, media_type: str, relative_path: str | None = None) -> Layer:
    """Copy (or hard-link) a file into the blobs and describe it as DMR's builder does."""
    annotations = file_annotations(path, relative_path)
    digest, size = store.blobs.ingest_file(path)
    return Layer(media_type, digest, size, annotations)


def store_artifact(
    store: ModelStore,
    config: dict[str, object],
    layers: list[Layer],
    tag: str,
    config_media_type: str = media_types.CONFIG_V01,
) -> StoredModel:
    raw_config = new_config_blob(config, layers)
    raw_manifest = manifest_bytes(sha256_digest(raw_config), len(raw_config), layers, config_media_type)
    return store.add(raw_manifest, raw_config, [tag])


def _existing_file(path: Path, option: str) -> Path:
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"{option} {path}: no such file")
    return path.absolute()
