"""``pull``: fetch a model artifact from an OCI registry (or build one from Hugging Face) into the store.

Each blob streams into ``<hex>.incomplete`` while being hashed, and is renamed to its digest only
when the hash matches; an interrupted download resumes with an HTTP Range request. A download stops at
the size the manifest declares, and the manifest, its config and its number of layers are bounded
(bounded_read.py). Layers download in parallel. A per-blob file lock makes concurrent pulls (threads or
processes) share the work. A pull whose layers do not fit on the store's disk is refused before it
starts, and a download that fills the disk anyway drops its partial file instead of keeping it to resume.
"""

import errno
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from filelock import FileLock

from compose_models.store import media_types
from compose_models.store.artifact import Layer
from compose_models.store.blobs import CHUNK_SIZE, digest_hex, sha256_digest
from compose_models.store.bounded_read import MAX_CONFIG_BYTES, MAX_LAYERS, MiB
from compose_models.store.errors import DigestMismatch, RegistryError, StoreFull
from compose_models.store.hf_pull import pull_from_hugging_face
from compose_models.store.model import StoredModel
from compose_models.store.reference import ModelReference, looks_like_digest, parse_reference
from compose_models.store.registry_client import RegistryClient
from compose_models.store.store import ModelStore
from compose_models.store.transfer_progress import SILENT, Advance, Transfers

PARALLEL_LAYERS = 4
# Left free on the store's disk by a pull, beyond its layers: the store's index, manifests and the runner's logs.
PULL_RESERVE_BYTES = 64 * MiB


@dataclass(frozen=True)
class PullResult:
    model: StoredModel
    cached: bool


def pull_model(
    store: ModelStore, reference: str, insecure: bool = False, transfers: Transfers = SILENT
) -> PullResult:
    ref = parse_reference(reference)
    if ref.is_hugging_face:  # a tag already stored is used as it is, without asking the Hub (as DMR)
        stored = store.find(str(ref))
        if stored is not None:
            return PullResult(stored, cached=True)
        return PullResult(pull_from_hugging_face(store, reference, transfers), cached=False)
    with RegistryClient(ref.registry, insecure) as client:
        raw_manifest = fetch_model_manifest(client, ref)
        model_id = sha256_digest(raw_manifest)
        tags = [] if ref.digest else [str(ref)]
        cached = store.find(model_id)
        if cached is not None:
            for tag in tags:
                store.tag(model_id, tag)
            return PullResult(store.get(model_id), cached=True)
        manifest = json.loads(raw_manifest)
        raw_config = fetch_config(client, ref, manifest)
        layers = list({layer.digest: layer for layer in map(Layer.from_descriptor, manifest["layers"])}.values())
        _check_room(store, ref, layers)
        with ThreadPoolExecutor(max_workers=PARALLEL_LAYERS) as pool:
            jobs = [pool.submit(download_blob, client, ref, layer, store, transfers) for layer in layers]
            for job in jobs:
                job.result()
        return PullResult(store.add(raw_manifest, raw_config, tags), cached=False)


def _check_room(store: ModelStore, ref: ModelReference, layers: list[Layer]) -> None:
    """Refuse, before a byte is downloaded, a pull whose declared layers would not fit on the store's disk."""
    coming = 0
    for layer in layers:
        if not store.blobs.has(layer.digest):
            partial = store.blobs.incomplete_path(layer.digest)
            done = partial.stat().st_size if partial.is_file() else 0
            coming += max(layer.size - done, 0)
    free = shutil.disk_usage(store.blobs.directory).free
    if coming + PULL_RESERVE_BYTES > free:
        raise StoreFull(
            f"not enough disk space to pull {ref}: it needs {_mib(coming)} MiB more, and {PULL_RESERVE_BYTES // MiB} MiB "
            f"must stay free, but the store's disk ({store.root}) has {_mib(free)} MiB free"
        )


def _mib(count: int) -> int:
    return -(-count // MiB)


def fetch_model_manifest(client: RegistryClient, ref: ModelReference) -> bytes:
    """The manifest bytes, checked to be a model artifact of a config type DMR reads, with well-formed
    descriptors and no more than MAX_LAYERS layers."""
    raw, media_type = client.get_manifest(ref.repository, ref.digest or ref.tag or "latest")
    if ref.digest and sha256_digest(raw) != ref.digest:
        raise DigestMismatch(f"the registry returned a manifest for {ref} whose digest is not {ref.digest}")
    try:
        manifest = json.loads(raw)
    except (ValueError, RecursionError):
        manifest = None
    if not isinstance(manifest, dict):
        raise RegistryError(f"the manifest of {ref} is not a JSON object")
    if (media_type or manifest.get("mediaType")) == media_types.OCI_INDEX:
        raise RegistryError(f"{ref} is an image index (a multi-platform image?), not a model artifact")
    config = manifest.get("config")
    config_type = config.get("mediaType", "") if isinstance(config, dict) else ""
    if config_type not in media_types.SUPPORTED_CONFIGS:
        raise RegistryError(
            f"{ref} has config media type {config_type!r}, which is not a model artifact: "
            f"expected one of {', '.join(media_types.SUPPORTED_CONFIGS)}"
        )
    layers = manifest.get("layers")
    if not isinstance(layers, list):
        raise RegistryError(f"the manifest of {ref} has no list of layers")
    if len(layers) > MAX_LAYERS:
        raise RegistryError(f"{ref} has {len(layers)} layers, more than the {MAX_LAYERS} a model may have; refused")
    for index, descriptor in enumerate([config, *layers]):
        _check_descriptor(descriptor, ref, "config" if index == 0 else f"layers[{index - 1}]")
    return raw


def _check_descriptor(descriptor: object, ref: ModelReference, where: str) -> None:
    if not isinstance(descriptor, dict):
        raise RegistryError(f"the manifest of {ref} has no descriptor object in {where}")
    size, digest = descriptor.get("size"), descriptor.get("digest")
    if type(size) is not int or size < 0:
        raise RegistryError(f"the manifest of {ref} has no valid size in {where}: {size!r}")
    if not isinstance(descriptor.get("mediaType"), str):
        raise RegistryError(f"the manifest of {ref} has no mediaType in {where}")
    if not isinstance(digest, str) or not looks_like_digest(digest):
        raise RegistryError(f"the manifest of {ref} has an invalid digest in {where}: expected sha256:<64 hex characters>")


def fetch_config(client: RegistryClient, ref: ModelReference, manifest: dict[str, Any]) -> bytes:
    """The config blob, refused when it declares more than MAX_CONFIG_BYTES or sends more than it declares."""
    digest, size = manifest["config"]["digest"], manifest["config"]["size"]
    if size > MAX_CONFIG_BYTES:
        raise RegistryError(
            f"the config of {ref} declares {size} bytes, more than the {MAX_CONFIG_BYTES // MiB} MiB a model config "
            "may have; refused"
        )
    return client.get_blob(ref.repository, digest, size, f"the config of {ref}")


def download_blob(
    client: RegistryClient, ref: ModelReference, layer: Layer, store: ModelStore, transfers: Transfers
) -> None:
    label = layer.digest.removeprefix("sha256:")[:12]
    lock_directory = store.root / "locks"
    lock_directory.mkdir(exist_ok=True)
    with FileLock(str(lock_directory / f"{digest_hex(layer.digest)}.lock")):
        if store.blobs.has(layer.digest):
            transfers.start(label, layer.size, done=layer.size)
            return
        partial = store.blobs.incomplete_path(layer.digest)
        hasher, offset = _hash_partial(partial, layer.size)
        advance = transfers.start(label, layer.size, done=offset)
        with client.stream_blob(ref.repository, layer.digest, offset) as response:
            if response.status_code != 416:  # 416: the partial file already holds every byte
                if response.status_code != 206:  # the registry ignored the Range: start over
                    hasher, offset = hashlib.sha256(), 0
                try:
                    with partial.open("ab" if offset else "wb") as file:
                        # Chunks as they come off the socket: re-chunking to a fixed size would copy every
                        # byte again and halve the throughput.
                        complete = _write_stream(response.iter_bytes(), file, hasher, advance, layer.size - offset)
                except OSError as error:
                    if error.errno not in (errno.ENOSPC, errno.EDQUOT):
                        raise
                    partial.unlink(missing_ok=True)  # kept, it would hold the disk full until a pull resumes it
                    raise StoreFull(
                        f"the store's disk ({store.root}) filled up while pulling {ref}: the partial blob "
                        f"{layer.digest} was removed; free some space and pull again"
                    ) from None
                if not complete:
                    partial.unlink(missing_ok=True)
                    raise RegistryError(
                        f"blob {layer.digest} of {ref} sent more than its declared {layer.size} bytes; "
                        "the download was stopped there and nothing was kept"
                    )
        if "sha256:" + hasher.hexdigest() != layer.digest:
            partial.unlink(missing_ok=True)
            raise RegistryError(
                f"blob {layer.digest} of {ref} does not match its digest (corrupt or tampered); it was not kept"
            )
        os.replace(partial, store.blobs.path(layer.digest))


def _hash_partial(partial: Path, expected_size: int) -> tuple["hashlib._Hash", int]:
    hasher = hashlib.sha256()
    if not partial.is_file() or partial.stat().st_size > expected_size:
        partial.unlink(missing_ok=True)
        return hasher, 0
    with partial.open("rb") as file:
        while chunk := file.read(CHUNK_SIZE):
            hasher.update(chunk)
    return hasher, partial.stat().st_size


def _write_stream(
    chunks: Iterator[bytes], file: BinaryIO, hasher: "hashlib._Hash", advance: Advance, limit: int
) -> bool:
    """Write and hash the chunks; False, with nothing past ``limit`` written, when there are more bytes."""
    for chunk in chunks:
        if len(chunk) > limit:
            return False
        limit -= len(chunk)
        file.write(chunk)
        hasher.update(chunk)
        advance(len(chunk))
    file.flush()
    os.fsync(file.fileno())
    return True


def fetch_remote_model(reference: str, insecure: bool = False) -> StoredModel:
    """A registry's model (manifest and config only, no tags), for ``inspect --remote``."""
    ref = parse_reference(reference)
    with RegistryClient(ref.registry, insecure) as client:
        raw_manifest = fetch_model_manifest(client, ref)
        manifest = json.loads(raw_manifest)
        raw_config = fetch_config(client, ref, manifest)
    return StoredModel(sha256_digest(raw_manifest), (), manifest, raw_config, Path())
