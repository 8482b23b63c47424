"""``push``: upload a stored model to an OCI registry, skipping blobs it has and mounting shared ones."""

from collections.abc import Iterator
from pathlib import Path

from compose_models.store.artifact import Layer
from compose_models.store.blobs import CHUNK_SIZE
from compose_models.store.errors import InvalidReference, RegistryError
from compose_models.store.model import StoredModel
from compose_models.store.reference import ModelReference, looks_like_id, parse_reference
from compose_models.store.registry_client import RegistryClient
from compose_models.store.store import ModelStore
from compose_models.store.transfer_progress import SILENT, Advance, Transfers


def push_model(store: ModelStore, reference: str, insecure: bool = False, transfers: Transfers = SILENT) -> str:
    """Push the model tagged ``reference`` to that reference's registry; returns the manifest digest."""
    if looks_like_id(reference.strip()):
        raise InvalidReference(f"push needs a tag naming the registry and repository, not the ID {reference.strip()!r}")
    ref = parse_reference(reference)
    if ref.digest or ref.is_hugging_face:
        raise InvalidReference(f"cannot push to {ref}: expected a registry tag such as localhost:5000/team/model:v1")
    model = store.get(reference)
    raw_manifest = store.raw_manifest(model.id)
    with RegistryClient(ref.registry, insecure) as client:
        config = Layer("config", model.manifest["config"]["digest"], int(model.manifest["config"]["size"]), {})
        for layer in [*model.layers, config]:
            _push_blob(client, ref, layer, store.blobs.path(layer.digest), _mount_sources(store, ref, layer), transfers)
        digest = client.put_manifest(ref.repository, ref.tag or "latest", raw_manifest, model.manifest["mediaType"])
    if digest != model.id:
        raise RegistryError(f"registry {ref.registry} stored the manifest as {digest}, expected {model.id}")
    return digest


def _push_blob(
    client: RegistryClient, ref: ModelReference, layer: Layer, path: Path, mount_from: list[str], transfers: Transfers
) -> None:
    label = layer.digest.removeprefix("sha256:")[:12]
    if client.blob_exists(ref.repository, layer.digest) or any(
        client.mount_blob(ref.repository, layer.digest, source) for source in mount_from
    ):
        transfers.start(f"{label} (exists)", layer.size, done=layer.size)
        return
    advance = transfers.start(label, layer.size)
    client.upload_blob(ref.repository, layer.digest, layer.size, _read_chunks(path, advance))


def _mount_sources(store: ModelStore, target: ModelReference, layer: Layer) -> list[str]:
    """Other repositories of the same registry that, by our tags, already hold this blob."""
    sources: list[str] = []
    for model in store.models():
        if layer.digest not in {candidate.digest for candidate in model.layers}:
            continue
        sources += [ref.repository for ref in _same_registry_refs(model, target) if ref.repository not in sources]
    return sources


def _same_registry_refs(model: StoredModel, target: ModelReference) -> Iterator[ModelReference]:
    for tag in model.tags:
        ref = parse_reference(tag)
        if ref.registry == target.registry and ref.repository != target.repository:
            yield ref


def _read_chunks(path: Path, advance: Advance) -> Iterator[bytes]:
    with path.open("rb") as file:
        while chunk := file.read(CHUNK_SIZE):
            advance(len(chunk))
            yield chunk
