"""`compose-models up` pulls the draft model a compose model's runtime flags name (`--model-draft REF`), as it
pulls the model itself, from a real registry; a draft it cannot pull fails `up` before anything starts, naming
the model's key and the draft."""

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from compose_models.store import ModelStore, package_gguf
from compose_models.store.push import push_model
from tests.conftest import LOCAL_MODEL_TAG, free_port, require, require_docker_and_busybox, run_cli
from tests.integration.store.local_registry import REGISTRY_BINARY, running_registry

pytestmark = pytest.mark.docker

STACK = """\
services:
  idle:
    image: busybox:1.36
    command: ["sleep", "600"]
    stop_signal: SIGKILL
    models: [llm]
models:
  llm:
    model: {model}
    context_size: 1024
    runtime_flags: ["--model-draft", "{draft}"]
"""


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require(Path(REGISTRY_BINARY).is_file(), f"{REGISTRY_BINARY} (apt-get install docker-registry)", linux_only=True)
    with running_registry(tmp_path_factory.mktemp("registry")) as address:
        yield address


@pytest.fixture
def stack(packaged_smollm2: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """A compose file's path and a unique project name, with a runner port of their own; all gone afterwards."""
    require_docker_and_busybox()
    monkeypatch.setenv("COMPOSE_MODELS_PORT", str(free_port()))
    name = f"draft-{uuid.uuid4().hex[:8]}"
    compose_file = tmp_path / "compose.yaml"
    yield compose_file, name
    run_cli("down", "-f", str(compose_file), "-p", name, "--", "--timeout", "0", check=False)
    run_cli("stop", check=False)


def _listed() -> list[str]:
    return [tag for model in json.loads(run_cli("ls", "--json").stdout) for tag in model["tags"]]


def test_up_pulls_the_draft_model_its_runtime_flags_name_or_fails_naming_it(
    stack: tuple[Path, str], registry: str, smollm2_gguf: Path, tmp_path: Path
) -> None:
    compose_file, name = stack
    absent = f"{registry}/team/absent-draft:1"
    compose_file.write_text(STACK.format(model=LOCAL_MODEL_TAG, draft=absent))
    failed = run_cli("up", "-f", str(compose_file), "-p", name, "-d", check=False)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr, failed.stderr
    assert f"draft model {absent!r} (runtime_flags of models.llm in {compose_file}) is not in the local store" in failed.stderr
    assert not (Path(os.environ["COMPOSE_MODELS_HOME"]) / "runner" / "state.json").exists()  # nothing started

    # SmolLM2 drafts for itself: pushed from another store, it is in this one only once up has pulled it.
    draft = f"{registry}/team/draft:1"
    source = ModelStore(tmp_path / "source")
    source.tag(package_gguf(source, smollm2_gguf, "team/draft").id, draft)
    push_model(source, draft)
    assert draft not in _listed()
    compose_file.write_text(STACK.format(model=LOCAL_MODEL_TAG, draft=draft))
    result = run_cli("up", "-f", str(compose_file), "-p", name, "-d")
    assert f"llm: loaded {LOCAL_MODEL_TAG} in " in result.stderr, result.stderr
    assert draft in _listed()
