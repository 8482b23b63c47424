"""Pulling ``hf.co/org/repo[:QUANT]``: a model artifact built from a Hugging Face repository (§3.11).

huggingface_hub lists and downloads the files (it honours ``HF_ENDPOINT`` and ``HF_TOKEN``) into a
staging folder beside the store, where an interrupted download resumes. The artifact is built as
DMR does, created at the repository's last-modified time. Every downloaded file is given that time
as its mtime, and mode 0644, so its layer annotations, and with them the model ID, are reproducible.
"""

import os
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from filelock import FileLock
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError
from huggingface_hub.hf_api import RepoSibling

from compose_models.store import media_types
from compose_models.store.artifact import Layer
from compose_models.store.errors import DigestMismatch, InvalidReference, RegistryError
from compose_models.store.gguf_metadata import read_gguf_config
from compose_models.store.hf_selection import HfSelection, RepoFile, select_files
from compose_models.store.model import StoredModel
from compose_models.store.packaging import classify_file, ingest_layer, store_artifact
from compose_models.store.reference import HUGGING_FACE_REGISTRY, parse_reference
from compose_models.store.safetensors_metadata import read_safetensors_config
from compose_models.store.store import ModelStore
from compose_models.store.transfer_progress import Advance, Transfers
from compose_models.units import rfc3339_nano

REVISION = "main"
T = TypeVar("T")
# HfHubHTTPError's bases are its HTTP client's error class (httpx or httpx2, by version) and OSError:
# together they cover refusals, unreachable hosts and interrupted transfers.
_HUB_ERRORS: tuple[type[BaseException], ...] = HfHubHTTPError.__bases__


def pull_from_hugging_face(store: ModelStore, reference: str, transfers: Transfers) -> StoredModel:
    """Download the files ``reference`` selects and store them as a model tagged with that reference."""
    ref = parse_reference(reference)
    if ref.digest:
        raise InvalidReference(f"{reference.strip()}: Hugging Face models are pulled by tag (the quantisation), not digest")
    repository = hugging_face_repository(reference)
    staging = store.root / "huggingface" / ref.repository.replace("/", "--")
    staging.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{staging}.lock"):  # a concurrent pull of the same repository waits, then finds it stored
        stored = store.find(str(ref))
        if stored is not None:
            return stored
        api = HfApi(endpoint=_endpoint())
        info = _from_hub(repository, lambda: api.model_info(repository, revision=REVISION, files_metadata=True))
        repo_files = [_repo_file(sibling) for sibling in info.siblings or []]
        selection = select_files(repo_files, ref.tag or "", repository)
        modified_ns = _nanoseconds(info.last_modified)
        paths = {
            file.path: _download(repository, info.sha or REVISION, file, staging, modified_ns, transfers)
            for file in _files_to_download(selection)
        }
        model = _build(store, selection, paths, str(ref), rfc3339_nano(modified_ns))
        shutil.rmtree(staging, ignore_errors=True)
    return model


def hugging_face_repository(reference: str) -> str:
    """``hf.co/Org/Repo:Q8_0`` → ``Org/Repo``: the repository keeps its case in the Hub's API."""
    text = reference.strip()
    for prefix in ("hf.co/", f"{HUGGING_FACE_REGISTRY}/"):
        if text.lower().startswith(prefix):
            text = text[len(prefix) :]
            break
    return text.rpartition(":")[0] if text.rfind(":") > text.rfind("/") else text


def _endpoint() -> str | None:
    """Read at each pull (huggingface_hub reads it once, at import)."""
    return os.environ.get("HF_ENDPOINT") or None


def _from_hub(repository: str, call: Callable[[], T]) -> T:
    """``call()``, with the Hub's refusals and network failures turned into one-line errors."""
    try:
        return call()
    except GatedRepoError as error:
        raise RegistryError(f"Hugging Face repository {repository} is gated: accept its terms, then set HF_TOKEN") from error
    except RepositoryNotFoundError as error:
        raise RegistryError(
            f"Hugging Face repository {repository} not found (if it is private, set HF_TOKEN to a token that can read it)"
        ) from error
    except _HUB_ERRORS as error:
        raise RegistryError(f"cannot fetch {repository} from Hugging Face ({_endpoint() or 'huggingface.co'}): {error}") from error


def _repo_file(sibling: RepoSibling) -> RepoFile:
    lfs = sibling.lfs
    return RepoFile(sibling.rfilename, (lfs.size if lfs else sibling.size) or 0, lfs.sha256 if lfs else None)


def _nanoseconds(moment: datetime | None) -> int:
    if moment is None:
        raise RegistryError("the Hugging Face API gave no lastModified time for the repository")
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def _files_to_download(selection: HfSelection) -> list[RepoFile]:
    """A GGUF model needs only its weights, projector and chat template; safetensors take every config."""
    if not selection.is_gguf:
        return selection.files
    extras = [file for file in (selection.mmproj, selection.chat_template) if file is not None]
    return [*selection.weights, *extras]


def _download(
    repository: str, revision: str, file: RepoFile, staging: Path, modified_ns: int, transfers: Transfers
) -> Path:
    def progress_bar(*, total: int | None = None, initial: int = 0, **_: object) -> _ProgressBar:
        return _ProgressBar(transfers.start(file.name, total or file.size, done=initial))

    local = _from_hub(
        repository,
        lambda: hf_hub_download(
            repository, file.path, revision=revision, local_dir=staging, endpoint=_endpoint(),
            tqdm_class=progress_bar,  # type: ignore[call-overload]  # a factory of bars: all the hub calls
        ),
    )
    path = Path(local)
    os.chmod(path, 0o644)
    os.utime(path, ns=(modified_ns, modified_ns))
    return path


class _ProgressBar:
    """What huggingface_hub drives as a tqdm bar, feeding our transfer display instead."""

    def __init__(self, advance: Advance) -> None:
        self._advance = advance

    def update(self, amount: int = 1) -> None:
        self._advance(amount)

    def __enter__(self) -> "_ProgressBar":
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass


def _build(store: ModelStore, selection: HfSelection, paths: dict[str, Path], tag: str, created: str) -> StoredModel:
    if not selection.is_gguf:  # v0.2: weights first, then every config, each under its path in the repository
        files = sorted(selection.files, key=lambda file: (file not in selection.weights, file.path))
        layers = [_ingest(store, file, paths[file.path], classify_file(paths[file.path]), file.path) for file in files]
        weights = [paths[file.path] for file in selection.weights]
        config = read_safetensors_config(weights, weights[0].parent)
        return store_artifact(store, config, layers, tag, media_types.CONFIG_V02, created)
    layers = [_ingest(store, file, paths[file.path], media_types.GGUF) for file in selection.weights]
    extras = ((selection.mmproj, media_types.MMPROJ), (selection.chat_template, media_types.CHAT_TEMPLATE))
    layers += [_ingest(store, file, paths[file.path], media_type) for file, media_type in extras if file is not None]
    config = read_gguf_config(paths[selection.weights[0].path])
    return store_artifact(store, config, layers, tag, created=created)


def _ingest(store: ModelStore, file: RepoFile, path: Path, media_type: str, relative_path: str | None = None) -> Layer:
    """Add a downloaded file as a layer, refusing it when its bytes do not match the sha256 the Hub lists."""
    layer = ingest_layer(store, path, media_type, relative_path)
    if file.sha256 is None or layer.digest == f"sha256:{file.sha256}":
        return layer
    path.unlink()
    if not any(layer.digest in entry.files for entry in store.index.read()):
        store.blobs.remove(layer.digest)
    raise DigestMismatch(f"{file.path} from Hugging Face does not match its sha256 {file.sha256}; it was not kept")
