import multiprocessing
from pathlib import Path

import pytest

from compose_models.errors import UserError
from compose_models.store import ModelConflict, ModelNotFound, ModelStore, StoredModel, package_gguf
from compose_models.store.blobs import BlobStore, sha256_digest
from compose_models.store.errors import DigestMismatch
from tests.unit.store.ggufs import write_gguf


@pytest.fixture
def tiny(store: ModelStore, tmp_path: Path) -> StoredModel:
    return package_gguf(store, write_gguf(tmp_path / "tiny.gguf"), "ai/smollm2")


def test_layout_files_are_dmr_shaped(store: ModelStore) -> None:
    assert (store.root / "layout.json").read_text() == '{\n  "version": "1.0.0"\n}'
    assert (store.root / "models.json").read_text() == '{\n  "models": []\n}'
    assert (store.root / "blobs" / "sha256").is_dir() and (store.root / "manifests" / "sha256").is_dir()


def test_the_stores_files_are_readable_by_all_and_no_temporary_is_left(store: ModelStore, tiny: StoredModel) -> None:
    written = [store.root / "layout.json", store.root / "models.json", *(store.root / "manifests" / "sha256").iterdir()]
    assert len(written) == 3 and all(path.stat().st_mode & 0o777 == 0o644 for path in written)
    assert [path.name for path in store.root.rglob(".*")] == []


@pytest.mark.parametrize(
    "spelling", ["ai/smollm2", "smollm2", "smollm2:latest", "docker.io/ai/smollm2:latest", "index.docker.io/ai/smollm2"]
)
def test_lookup_by_any_tag_spelling(store: ModelStore, tiny: StoredModel, spelling: str) -> None:
    assert store.get(spelling).id == tiny.id


def test_lookup_by_id_forms(store: ModelStore, tiny: StoredModel) -> None:
    hex_id = tiny.id.removeprefix("sha256:")
    for spelling in (tiny.id, hex_id, hex_id[:12], f"ai/smollm2@{tiny.id}"):
        assert store.get(spelling).id == tiny.id


def test_bare_name_matches_another_namespace(store: ModelStore, tmp_path: Path) -> None:
    model = package_gguf(store, write_gguf(tmp_path / "m.gguf"), "local/smollm2:135m-q4_1")
    assert store.get("smollm2").id == model.id
    assert store.get("smollm2:135m-q4_1").id == model.id


def test_stored_model_exposes_what_the_runner_needs(store: ModelStore, tiny: StoredModel) -> None:
    assert tiny.tags == ("docker.io/ai/smollm2:latest",)
    assert tiny.context_size == 2048
    assert tiny.created > 0
    assert len(tiny.gguf_paths) == 1 and tiny.gguf_paths[0].read_bytes()[:4] == b"GGUF"
    entry = tiny.to_dmr_json()
    assert list(entry) == ["id", "tags", "created", "config"]
    assert entry["config"]["quantization"] == "Q8_0"
    openai = tiny.openai_entry()
    assert openai["id"] == "ai/smollm2:latest" and openai["owned_by"] == "docker"
    assert openai["dmr"]["context_window"] == 2048


def test_missing_model_says_how_to_get_it(store: ModelStore) -> None:
    with pytest.raises(ModelNotFound, match=r"compose-models pull ai/nothing.*package --gguf FILE ai/nothing"):
        store.get("ai/nothing")


def test_tag_moves_from_another_model(store: ModelStore, tiny: StoredModel, tmp_path: Path) -> None:
    other = package_gguf(store, write_gguf(tmp_path / "other.gguf", context_length=64), "ai/other")
    assert store.tag("ai/other", "smollm2") == "docker.io/ai/smollm2:latest"
    assert store.get("smollm2").id == other.id
    assert store.get(tiny.id).tags == ()
    assert store.get(other.id).tags == ("docker.io/ai/other:latest", "docker.io/ai/smollm2:latest")


def test_tag_of_unknown_source_or_bad_target(store: ModelStore, tiny: StoredModel) -> None:
    with pytest.raises(ModelNotFound):
        store.tag("ai/unknown", "ai/x")
    with pytest.raises(UserError, match="invalid"):
        store.tag("ai/smollm2", "Bad Name")


def test_rm_untags_first_then_deletes_like_docker(store: ModelStore, tiny: StoredModel) -> None:
    store.tag("ai/smollm2", "ai/second:v1")
    assert store.remove("ai/second:v1") == [{"Untagged": "docker.io/ai/second:v1"}]
    assert store.remove("smollm2") == [{"Untagged": "docker.io/ai/smollm2:latest"}, {"Deleted": tiny.id}]
    assert store.models() == []
    assert not store.manifest_path(tiny.id).exists()
    assert [p.name for p in store.blobs.directory.iterdir()] == []


def test_rm_by_id_with_several_tags_needs_force(store: ModelStore, tiny: StoredModel) -> None:
    store.tag(tiny.id, "ai/second")
    with pytest.raises(ModelConflict, match="must be forced"):
        store.remove(tiny.short_id)
    assert store.remove(tiny.short_id, force=True) == [
        {"Untagged": "docker.io/ai/smollm2:latest"},
        {"Untagged": "docker.io/ai/second:latest"},
        {"Deleted": tiny.id},
    ]


def test_shared_blob_survives_removal_of_one_model(store: ModelStore, tmp_path: Path) -> None:
    gguf = write_gguf(tmp_path / "m.gguf")
    first = package_gguf(store, gguf, "ai/first")
    second = package_gguf(store, gguf, "ai/second", context_size=128)
    weights = first.gguf_paths[0]
    assert second.gguf_paths == [weights]
    store.remove("ai/first")
    assert weights.is_file()
    assert store.get("ai/second").gguf_paths[0].read_bytes() == gguf.read_bytes()
    store.remove("ai/second")
    assert not weights.exists()


def _add_tags(root: Path, source: str, prefix: str, count: int) -> None:
    store = ModelStore(root)
    for number in range(count):
        store.tag(source, f"{prefix}/model:{number}")


def test_concurrent_writers_do_not_lose_tags(store: ModelStore, tiny: StoredModel) -> None:
    # spawn, not fork: fork without exec is unsafe on macOS once Objective-C or Metal is loaded
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_add_tags, args=(store.root, tiny.id, f"p{n}", 25)) for n in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    assert len(store.get(tiny.id).tags) == 1 + 2 * 25


def test_an_uploaded_blob_is_kept_only_if_its_digest_matches(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    right, wrong = sha256_digest(b"hello world"), sha256_digest(b"something else")
    with blobs.upload(right) as upload:
        upload.write(b"hello ")
        upload.write(b"world")
        upload.finish()
    assert blobs.read_bytes(right) == b"hello world"
    with pytest.raises(DigestMismatch), blobs.upload(wrong) as upload:
        upload.write(b"hello world")
        upload.finish()
    with blobs.upload(wrong) as upload:
        upload.write(b"a client that left half way")
    assert not blobs.has(wrong) and [path.name for path in blobs.directory.iterdir()] == [right.removeprefix("sha256:")]
