"""The local model store, in Docker Model Runner's layout (reference §4).

``layout.json``, ``models.json`` (see index.py), ``blobs/sha256/<hex>`` and ``manifests/sha256/<hex>``
where the manifest file name is the model ID. Tags are stored fully qualified.
"""

import json
import shutil
from pathlib import Path

from compose_models.atomic_file import replace_file
from compose_models.home import store_dir
from compose_models.store.blobs import BlobStore, digest_hex, sha256_digest
from compose_models.store.errors import InvalidArtifact, InvalidReference, ModelConflict, ModelNotFound
from compose_models.store.gojson import go_marshal_indent
from compose_models.store.index import IndexEntry, ModelIndex
from compose_models.store.model import StoredModel
from compose_models.store.reference import looks_like_digest, looks_like_id, normalize_reference, parse_reference

LAYOUT_VERSION = "1.0.0"


class ModelStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = BlobStore(root)
        self.manifests_directory = root / "manifests" / "sha256"
        self.index = ModelIndex(root / "models.json")
        self._initialise()

    @classmethod
    def default(cls) -> "ModelStore":
        """The store under ``$COMPOSE_MODELS_HOME``."""
        return cls(store_dir())

    def _initialise(self) -> None:
        self.blobs.directory.mkdir(parents=True, exist_ok=True)
        self.manifests_directory.mkdir(parents=True, exist_ok=True)
        layout = self.root / "layout.json"
        if not layout.exists():
            replace_file(layout, go_marshal_indent({"version": LAYOUT_VERSION}, 2), 0o644)
        if not self.index.path.exists():
            with self.index.locked():
                if not self.index.path.exists():
                    self.index.write([])

    # -- reading ----------------------------------------------------------------------------------

    def models(self) -> list[StoredModel]:
        return [self._load(entry) for entry in self.index.read()]

    def get(self, reference: str) -> StoredModel:
        """The model a reference names (any tag spelling, full or short ID); ModelNotFound otherwise."""
        model = self.find(reference)
        if model is None:
            raise ModelNotFound(reference.strip())
        return model

    def find(self, reference: str) -> StoredModel | None:
        entry = _find_entry(self.index.read(), reference)
        return self._load(entry) if entry else None

    def manifest_path(self, model_id: str) -> Path:
        return self.manifests_directory / digest_hex(model_id)

    def raw_manifest(self, model_id: str) -> bytes:
        return self.manifest_path(model_id).read_bytes()

    def _load(self, entry: IndexEntry) -> StoredModel:
        raw_manifest = self.raw_manifest(entry.id)
        manifest = json.loads(raw_manifest)
        raw_config = self.blobs.read_bytes(manifest["config"]["digest"])
        return StoredModel(entry.id, tuple(entry.tags), manifest, raw_config, self.blobs.directory)

    # -- writing ----------------------------------------------------------------------------------

    def add(self, raw_manifest: bytes, raw_config: bytes, tags: list[str]) -> StoredModel:
        """Record an artifact whose layer blobs are already in the store, and give it these tags."""
        manifest = json.loads(raw_manifest)
        model_id = sha256_digest(raw_manifest)
        config_digest = self.blobs.write_bytes(raw_config)
        if config_digest != manifest["config"]["digest"]:
            raise InvalidArtifact(f"config blob of {model_id} does not match its manifest descriptor")
        layer_digests = [layer["digest"] for layer in manifest["layers"]]
        normalized_tags = [normalize_reference(tag) for tag in tags]
        with self.index.update() as entries:
            missing = [digest for digest in layer_digests if not self.blobs.has(digest)]
            if missing:
                raise InvalidArtifact(f"cannot record model {model_id}: blobs {', '.join(missing)} are not in the store")
            replace_file(self.manifest_path(model_id), raw_manifest, 0o644)
            if not any(entry.id == model_id for entry in entries):
                entries.append(IndexEntry(model_id, [], [*dict.fromkeys(layer_digests), config_digest]))
            for tag in normalized_tags:
                _move_tag(entries, model_id, tag)
        return self.get(model_id)

    def tag(self, source: str, target: str) -> str:
        """Point ``target`` at the model ``source`` names, moving it off any other model."""
        tag = str(parse_reference(target))
        with self.index.update() as entries:
            entry = _find_entry(entries, source)
            if entry is None:
                raise ModelNotFound(source.strip())
            _move_tag(entries, entry.id, tag)
        return tag

    def remove(self, reference: str, force: bool = False) -> list[dict[str, str]]:
        """Untag, and delete the model once it has no tags, as ``docker model rm`` does.

        Returns DMR's response: ``[{"Untagged": tag}, ..., {"Deleted": id}]``.
        """
        actions: list[dict[str, str]] = []
        with self.index.update() as entries:
            entry = _find_entry(entries, reference)
            if entry is None:
                raise ModelNotFound(reference.strip())
            named_by_tag = not looks_like_id(reference.strip()) and "@" not in reference
            if named_by_tag:
                tag = _tag_named_by(entry, reference)
                entry.tags.remove(tag)
                actions.append({"Untagged": tag})
                if entry.tags:
                    return actions
            elif len(entry.tags) > 1 and not force:
                raise ModelConflict(
                    f"unable to delete {reference.strip()!r} (must be forced) due to multiple tag references: "
                    f"{', '.join(entry.tags)}; use `rm -f` or remove the tags one by one"
                )
            actions += [{"Untagged": tag} for tag in entry.tags]
            entries.remove(entry)
            self._delete_files(entry, entries)
            actions.append({"Deleted": entry.id})
        return actions

    def _delete_files(self, removed: IndexEntry, remaining: list[IndexEntry]) -> None:
        still_used = {file for entry in remaining for file in entry.files}
        self.manifest_path(removed.id).unlink(missing_ok=True)
        shutil.rmtree(self.root / "bundles" / "sha256" / digest_hex(removed.id), ignore_errors=True)
        for digest in removed.files:
            if digest not in still_used:
                self.blobs.remove(digest)

    def disk_usage(self) -> int:
        """Bytes used by the store on disk (blobs, manifests, index), as ``/engines/df`` reports."""
        return sum(path.stat().st_size for path in self.root.rglob("*") if path.is_file())


def _find_entry(entries: list[IndexEntry], reference: str) -> IndexEntry | None:
    text = reference.strip()
    if looks_like_id(text):
        return next((entry for entry in entries if _id_matches(entry.id, text)), None)
    if "@" in text:
        digest = text.rsplit("@", 1)[1]
        return next((entry for entry in entries if entry.id == digest), None) if looks_like_digest(digest) else None
    tag = normalize_reference(text)
    exact = next((entry for entry in entries if tag in _normalized_tags(entry)), None)
    if exact or "/" in text:
        return exact
    return _match_bare_name(entries, text)


def _id_matches(model_id: str, text: str) -> bool:
    hex_id = model_id.removeprefix("sha256:")
    return text in (model_id, hex_id) or (len(text) == 12 and hex_id.startswith(text))


def _match_bare_name(entries: list[IndexEntry], text: str) -> IndexEntry | None:
    """DMR's fallback: ``smollm2`` (or ``smollm2:tag``) matches any repository whose last part is that name."""
    return next((entry for entry in entries if _bare_name_tag(entry, text)), None)


def _bare_name_tag(entry: IndexEntry, text: str) -> str | None:
    name, _, tag = text.strip().lower().partition(":")
    for stored, normalized in zip(entry.tags, _normalized_tags(entry)):
        repository, _, stored_tag = normalized.rpartition(":")
        if repository.rsplit("/", 1)[-1] == name and (not tag or stored_tag == tag):
            return stored
    return None


def _normalized_tags(entry: IndexEntry) -> list[str]:
    normalized = []
    for tag in entry.tags:
        try:
            normalized.append(normalize_reference(tag))
        except InvalidReference:
            normalized.append(tag)
    return normalized


def _tag_named_by(entry: IndexEntry, reference: str) -> str:
    wanted = normalize_reference(reference)
    for stored, normalized in zip(entry.tags, _normalized_tags(entry)):
        if normalized == wanted:
            return stored
    return _bare_name_tag(entry, reference) or entry.tags[0]


def _move_tag(entries: list[IndexEntry], model_id: str, tag: str) -> None:
    """Give ``tag`` to ``model_id`` (keeping its place if already there) and take it off every other model."""
    for entry in entries:
        if entry.id == model_id:
            if tag not in _normalized_tags(entry):
                entry.tags.append(tag)
        else:
            entry.tags[:] = [t for t, normalized in zip(entry.tags, _normalized_tags(entry)) if normalized != tag]
