"""``package``: turn local files into a model artifact in the store, as ``docker model package`` does.

Sources: a GGUF (``--gguf``, v0.1 config), a safetensors directory (``--safetensors-dir``, v0.2 config,
one layer per file with its relative path), or a stored model (``--from``, same layers, new config).
"""

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from compose_models.store import media_types
from compose_models.store.artifact import Layer, config_blob, file_annotations, manifest_bytes, new_config_blob
from compose_models.store.blobs import sha256_digest
from compose_models.store.errors import InvalidArtifact
from compose_models.store.gguf_metadata import discover_shards, is_gguf_file, read_gguf_config
from compose_models.store.model import StoredModel
from compose_models.store.modelpack import cncf_config_blob, cncf_layer
from compose_models.store.reference import parse_reference
from compose_models.store.safetensors_metadata import read_safetensors_config
from compose_models.store.store import ModelStore
from compose_models.units import rfc3339_nano


@dataclass(frozen=True)
class PackageOptions:
    """What ``package`` may add to any source: a context size and extra files; and the artifact format."""

    context_size: int | None = None
    licenses: Sequence[Path] = ()
    chat_template: Path | None = None
    mmproj: Path | None = None
    cncf: bool = False  # write a CNCF ModelPack artifact instead of Docker's format


def package_gguf(
    store: ModelStore,
    gguf_path: Path,
    target: str,
    context_size: int | None = None,
    licenses: Sequence[Path] = (),
    chat_template: Path | None = None,
    mmproj: Path | None = None,
    cncf: bool = False,
) -> StoredModel:
    """Package a GGUF (the first shard of a split one) with optional extra files, tagged ``target``."""
    tag = str(parse_reference(target))
    gguf_path = _existing_file(gguf_path, "--gguf")
    if not is_gguf_file(gguf_path):
        raise InvalidArtifact(f"--gguf {gguf_path} is not a GGUF file: it does not start with the GGUF magic bytes")
    extras = _extra_files(PackageOptions(context_size, licenses, chat_template, mmproj, cncf))
    shards = discover_shards(gguf_path)
    config = read_gguf_config(shards[0])
    if context_size is not None:
        config["context_size"] = context_size
    layers = [ingest_layer(store, shard, media_types.GGUF) for shard in shards]
    layers += [ingest_layer(store, path, media_type) for path, media_type in extras]
    return store_artifact(store, config, layers, tag, cncf=cncf)


def package_safetensors_dir(
    store: ModelStore, directory: Path, target: str, options: PackageOptions = PackageOptions()
) -> StoredModel:
    """Package every file under ``directory`` (hidden files and symlinks skipped), weights first."""
    tag = str(parse_reference(target))
    directory = Path(directory).expanduser().absolute()
    if not directory.is_dir():
        raise InvalidArtifact(f"--safetensors-dir {directory}: no such directory")
    files = sorted(_visible_files(directory), key=lambda path: (classify_file(path) != media_types.SAFETENSORS, path))
    weights = [path for path in files if classify_file(path) == media_types.SAFETENSORS]
    if not weights:
        raise InvalidArtifact(f"--safetensors-dir {directory} holds no .safetensors file")
    if options.mmproj is not None:
        raise InvalidArtifact("--mmproj goes with --gguf, not --safetensors-dir")
    extras = _extra_files(options)
    config = read_safetensors_config(weights, directory)
    if options.context_size is not None:
        config["context_size"] = options.context_size
    layers = [ingest_layer(store, path, classify_file(path), str(path.relative_to(directory))) for path in files]
    layers += [ingest_layer(store, path, media_type) for path, media_type in extras]
    return store_artifact(store, config, layers, tag, media_types.CONFIG_V02, cncf=options.cncf)


def repackage(store: ModelStore, source: str, target: str, options: PackageOptions = PackageOptions()) -> StoredModel:
    """``package --from``: the stored model's layers plus any extra files, under a new config and tag."""
    tag = str(parse_reference(target))
    model = store.get(source)
    if model.is_cncf or options.cncf:
        raise InvalidArtifact(f"--from {source}: repackaging from or to a CNCF ModelPack artifact is not supported")
    added = [ingest_layer(store, path, media_type) for path, media_type in _extra_files(options)]
    config = dict(model.config_file.get("config") or {})
    if options.context_size is not None:
        config["context_size"] = options.context_size
    rootfs = model.config_file.get("rootfs") or {}
    diff_ids = [*(rootfs.get("diff_ids") or []), *(layer.digest for layer in added)]
    created = (model.config_file.get("descriptor") or {}).get("created")
    raw_config = config_blob(config, created, diff_ids)
    layers = [*model.layers, *added]
    raw_manifest = manifest_bytes(sha256_digest(raw_config), len(raw_config), layers, model.config_media_type)
    return store.add(raw_manifest, raw_config, [tag])


def _extra_files(options: PackageOptions) -> list[tuple[Path, str]]:
    """Validated options, as (file, media type) in DMR's layer order: licenses, template, projector."""
    if options.context_size is not None and options.context_size <= 0:
        raise InvalidArtifact(f"--context-size must be a positive number of tokens, got {options.context_size}")
    if options.context_size is not None and options.cncf:
        raise InvalidArtifact("--context-size cannot be used with --format cncf: ModelPack configs have no context size")
    extras = [(_existing_file(path, "--license"), media_types.LICENSE) for path in options.licenses]
    if options.chat_template is not None:
        extras.append((_existing_file(options.chat_template, "--chat-template"), media_types.CHAT_TEMPLATE))
    if options.mmproj is not None:
        extras.append((_existing_file(options.mmproj, "--mmproj"), media_types.MMPROJ))
    return extras


def _visible_files(directory: Path) -> list[Path]:
    found = []
    for root, directories, names in os.walk(directory):
        directories[:] = sorted(d for d in directories if not d.startswith(".") and not Path(root, d).is_symlink())
        found += [Path(root, n) for n in names if not n.startswith(".") and not Path(root, n).is_symlink()]
    return found


def classify_file(path: Path) -> str:
    """DMR's file classification for directory packaging (reference §3.12)."""
    name = path.name.lower()
    if name.endswith(".safetensors"):
        return media_types.SAFETENSORS
    if name.endswith(".gguf"):
        return media_types.GGUF
    if name.endswith(".dduf"):
        return media_types.DDUF
    if name.endswith(".jinja") or "chat_template" in name:
        return media_types.CHAT_TEMPLATE
    if any(word in name for word in ("license", "licence", "copying", "notice")):
        return media_types.LICENSE
    return media_types.MODEL_FILE


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
    created: str | None = None,
    cncf: bool = False,
) -> StoredModel:
    """Write the config and manifest of these (ingested) layers and tag them; ``created`` defaults to now."""
    if cncf:
        layers = [cncf_layer(layer) for layer in layers]
        raw_config = cncf_config_blob(config, created or rfc3339_nano(), [layer.digest for layer in layers])
        config_digest = sha256_digest(raw_config)
        artifact_type = media_types.CNCF_ARTIFACT_TYPE
        raw_manifest = manifest_bytes(config_digest, len(raw_config), layers, media_types.CONFIG_CNCF, artifact_type)
    else:
        raw_config = new_config_blob(config, layers, created)
        raw_manifest = manifest_bytes(sha256_digest(raw_config), len(raw_config), layers, config_media_type)
    return store.add(raw_manifest, raw_config, [tag])


def _existing_file(path: Path, option: str) -> Path:
    path = Path(path).expanduser()
    if not path.is_file():
        raise InvalidArtifact(f"{option} {path}: no such file")
    return path.absolute()
