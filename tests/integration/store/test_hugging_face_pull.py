"""``pull hf.co/...`` through huggingface_hub, against a loopback fake of the public Hub's HTTP API."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from compose_models.errors import UserError
from compose_models.store import ModelStore, media_types
from compose_models.store.pull import pull_model
from compose_models.units import parse_rfc3339_seconds
from tests.conftest import free_port, run_cli
from tests.integration.store.fake_hugging_face_hub import FakeHub, FakeRepository, fake_hugging_face_hub
from tests.unit.store.ggufs import write_gguf, write_safetensors

REPOSITORY = "TheOrg/Tiny-Chat-GGUF"  # mixed case: the Hub's API must be asked with it
TEMPLATE = "{% for m in messages %}{{ m.content }}{% endfor %}"


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    with fake_hugging_face_hub() as fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # no real token or cache
        monkeypatch.delenv("HF_TOKEN", raising=False)
        yield fake


@pytest.fixture
def gguf_repository(hub: FakeHub, tmp_path: Path) -> FakeRepository:
    files = tmp_path / "hub-files"
    files.mkdir()
    (files / "template.jinja").write_text(TEMPLATE)
    (files / "README.md").write_text("# Tiny chat")
    (files / "LICENSE").write_text("Apache-2.0")
    repository = FakeRepository({
        "tiny-chat-Q4_K_M.gguf": write_gguf(files / "q4.gguf", file_type=15, tensor_rows=6),
        "tiny-chat-Q8_0.gguf": write_gguf(files / "q8.gguf", file_type=7, tensor_rows=8),
        "mmproj-tiny-chat-Q8_0.gguf": write_gguf(files / "mmproj-q8.gguf", file_type=7, tensor_rows=2),
        "mmproj-tiny-chat-F16.gguf": write_gguf(files / "mmproj-f16.gguf", file_type=1, tensor_rows=3),
        "chat_template.jinja": files / "template.jinja",
        "README.md": files / "README.md",
        "LICENSE": files / "LICENSE",
    })  # fmt: skip
    hub.repositories[REPOSITORY] = repository
    return repository


def test_default_quantisation_with_projector_and_template(gguf_repository: FakeRepository, tmp_path: Path) -> None:
    result = pull_model(ModelStore(tmp_path / "store"), f"hf.co/{REPOSITORY}")
    model = result.model
    assert not result.cached
    assert model.tags == ("huggingface.co/theorg/tiny-chat-gguf:latest",)
    assert model.config_media_type == media_types.CONFIG_V01
    assert [layer.media_type for layer in model.layers] == [media_types.GGUF, media_types.MMPROJ, media_types.CHAT_TEMPLATE]
    assert model.gguf_paths[0].read_bytes() == gguf_repository.files["tiny-chat-Q4_K_M.gguf"].read_bytes()
    assert model.mmproj_path.read_bytes() == gguf_repository.files["mmproj-tiny-chat-F16.gguf"].read_bytes()
    assert model.chat_template_path.read_text() == TEMPLATE
    assert model.config["quantization"] == "Q4_K_M" and model.context_size == 2048
    assert model.created == parse_rfc3339_seconds(gguf_repository.last_modified)
    assert json.loads(model.raw_config)["descriptor"] == {"created": "2025-03-04T05:06:07Z"}
    assert not (tmp_path / "store" / "huggingface" / "theorg--tiny-chat-gguf").exists()


def test_same_repository_gives_the_same_id_everywhere(gguf_repository: FakeRepository, tmp_path: Path) -> None:
    first = pull_model(ModelStore(tmp_path / "one"), f"hf.co/{REPOSITORY}:q8_0").model
    second = pull_model(ModelStore(tmp_path / "two"), f"huggingface.co/{REPOSITORY}:Q8_0").model
    assert first.id == second.id
    assert first.tags == ("huggingface.co/theorg/tiny-chat-gguf:q8_0",)
    assert first.gguf_paths[0].read_bytes() == gguf_repository.files["tiny-chat-Q8_0.gguf"].read_bytes()


def test_shards_are_layers_in_order(hub: FakeHub, tmp_path: Path) -> None:
    shards = {f"big-Q4_K_M-0000{i}-of-00002.gguf": write_gguf(tmp_path / f"s{i}.gguf", tensor_rows=i + 4) for i in (2, 1)}
    hub.repositories["org/big"] = FakeRepository({**shards, "big-Q8_0.gguf": write_gguf(tmp_path / "q8.gguf")})
    model = pull_model(ModelStore(tmp_path / "store"), "hf.co/org/big").model
    assert [path.read_bytes() for path in model.gguf_paths] == [(tmp_path / f"s{i}.gguf").read_bytes() for i in (1, 2)]


def test_safetensors_repository_is_v02_with_every_config(hub: FakeHub, tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"max_position_embeddings": 1024}))
    hub.repositories["org/st"] = FakeRepository({
        "model.safetensors": write_safetensors(tmp_path / "model.safetensors", 4),
        "config.json": tmp_path / "config.json",
    })  # fmt: skip
    model = pull_model(ModelStore(tmp_path / "store"), "hf.co/org/st").model
    assert model.config_media_type == media_types.CONFIG_V02
    paths = [layer.annotations[media_types.ANNOTATION_FILEPATH] for layer in model.layers]
    assert paths == ["model.safetensors", "config.json"]
    assert model.config["format"] == "safetensors" and model.context_size == 1024


def test_corrupt_download_is_rejected_and_not_kept(gguf_repository: FakeRepository, tmp_path: Path) -> None:
    gguf_repository.corrupt.add("tiny-chat-Q4_K_M.gguf")
    store = ModelStore(tmp_path / "store")
    with pytest.raises(UserError, match="tiny-chat-Q4_K_M.gguf from Hugging Face does not match its sha256"):
        pull_model(store, f"hf.co/{REPOSITORY}")
    assert store.models() == [] and store.blobs.total_size() == 0


def test_cli_pull_then_cached_without_network(gguf_repository: FakeRepository, hub: FakeHub) -> None:
    assert run_cli("pull", f"hf.co/{REPOSITORY}:Q8_0").stdout.strip() == "Model pulled successfully"
    asked = len(hub.requests)
    assert run_cli("pull", f"hf.co/{REPOSITORY}:Q8_0").stdout.startswith("Using cached model: ")
    assert len(hub.requests) == asked
    listed = json.loads(run_cli("ls", "--json").stdout)
    assert listed[0]["tags"] == ["huggingface.co/theorg/tiny-chat-gguf:Q8_0"]
    assert listed[0]["config"]["quantization"] == "Q8_0"


def test_cli_errors_are_clear(hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = run_cli("pull", "hf.co/org/absent", check=False)
    assert missing.returncode == 1 and "Hugging Face repository org/absent not found" in missing.stderr
    assert "Traceback" not in missing.stderr
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    down = run_cli("pull", "hf.co/org/any", check=False)
    assert down.returncode == 1 and "cannot fetch org/any from Hugging Face" in down.stderr
    assert "Traceback" not in down.stderr
