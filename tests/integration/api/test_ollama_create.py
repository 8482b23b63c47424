"""Ollama's create, blobs and push, called with the official ollama client (and a Modelfile string with
plain httpx), on a runner of this module's own with the real SmolLM2 model, pushing to a real local
registry and pulling back with our own ``pull`` into a fresh home."""

import hashlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import ollama
import pytest

from tests.conftest import LOCAL_MODEL_TAG, cli_headers, require, run_cli
from tests.integration.api.conftest import serving_runner
from tests.integration.store.local_registry import REGISTRY_BINARY, running_registry

pytestmark = pytest.mark.model

SYSTEM = "You are a terse pirate. Answer every question in one short sentence, ending with Arr."
SHORT = {"num_predict": 8}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("create-runner")


@pytest.fixture(scope="module")
def url(home: Path, smollm2_gguf: Path) -> Iterator[str]:
    """A runner of its own: these tests add models to its store."""
    with serving_runner(home, smollm2_gguf) as runner_url:
        yield runner_url


@pytest.fixture(scope="module")
def manage(url: str, home: Path) -> dict[str, str]:
    """The CLI's key, which creating, uploading and pushing need."""
    return cli_headers(home)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require(Path(REGISTRY_BINARY).is_file(), f"{REGISTRY_BINARY} (apt-get install docker-registry)", linux_only=True)
    with running_registry(tmp_path_factory.mktemp("create-registry")) as address:
        yield address


@pytest.fixture(scope="module")
def client(url: str, manage: dict[str, str]) -> ollama.Client:
    return ollama.Client(host=url, timeout=120, headers=manage)


def test_create_from_an_uploaded_gguf_then_chat_push_and_pull_back(
    client: ollama.Client, url: str, manage: dict[str, str], registry: str, smollm2_gguf: Path, tmp_path: Path
) -> None:
    digest = client.create_blob(smollm2_gguf)  # POST /api/blobs/<digest>, streamed from the file
    assert httpx.head(f"{url}/api/blobs/{digest}", headers=manage).status_code == 200
    target = f"{registry}/team/pirate:v1"
    progress = list(client.create(model=target, files={"smol.gguf": digest}, system=SYSTEM,
                                  parameters={"num_ctx": 2048, "temperature": 0}, stream=True))  # fmt: skip
    assert f"using existing layer {digest}" in [step.status for step in progress]  # the upload is the layer
    assert progress[-1].status == "success"

    shown = client.show(target)
    assert f'SYSTEM """{SYSTEM}"""' in shown.modelfile and "temperature" in shown.parameters
    assert httpx.get(f"{url}/engines/v1/models/{target}").json()["dmr"]["context_window"] == 2048

    hello = [{"role": "user", "content": "Who are you?"}]
    reply = client.chat(model=target, messages=hello, options=SHORT)
    assert reply.message.content.strip()
    # The engine saw the stored system prompt: the same prompt as with it sent explicitly, not as without it
    explicit = client.chat(model=target, messages=[{"role": "system", "content": SYSTEM}, *hello], options=SHORT)
    other = client.chat(model=target, messages=[{"role": "system", "content": "Be nice."}, *hello], options=SHORT)
    assert reply.prompt_eval_count == explicit.prompt_eval_count != other.prompt_eval_count

    pushed = [step.status for step in client.push(target, stream=True)]
    assert pushed[0] == "retrieving manifest" and pushed[-2:] == ["pushing manifest", "success"]
    assert any(status.startswith("pushing ") for status in pushed[1:-2])
    fresh = {**os.environ, "COMPOSE_MODELS_HOME": str(tmp_path / "fresh")}
    run_cli("pull", target, env=fresh)
    [pulled] = json.loads(run_cli("ls", "--json", env=fresh).stdout)
    assert pulled["id"] == httpx.get(f"{url}/models/{target}").json()["id"]
    assert pulled["config"]["context_size"] == 2048 and pulled["config"]["modelfile"]["system"] == SYSTEM


def test_a_modelfile_string_creates_a_model_from_a_stored_one(url: str, manage: dict[str, str]) -> None:
    modelfile = (f"# from the packaged model\nFROM {LOCAL_MODEL_TAG}\nPARAMETER temperature 0\n"
                 'PARAMETER stop <|im_end|>\nSYSTEM """Answer in French.\nBe brief."""\n'
                 "TEMPLATE {{ .System }} {{ .Prompt }}\nLICENSE MIT\n")  # fmt: skip
    answer = httpx.post(f"{url}/api/create", json={"model": "local/french", "modelfile": modelfile}, headers=manage)
    statuses = [json.loads(line)["status"] for line in answer.text.splitlines()]
    assert answer.status_code == 200 and statuses[0] == "parsing modelfile" and statuses[-1] == "success"
    assert any("Go template syntax" in status for status in statuses)
    shown = httpx.post(f"{url}/api/show", json={"model": "local/french"}).json()
    assert shown["system"] == "Answer in French.\nBe brief." and shown["template"] == "{{ .System }} {{ .Prompt }}"
    assert shown["license"].startswith("MIT") and 'stop                           "<|im_end|>"' in shown["parameters"]
    base, created = (httpx.get(f"{url}/models/{name}").json() for name in (LOCAL_MODEL_TAG, "local/french"))
    assert created["id"] != base["id"] and created["config"]["gguf"] == base["config"]["gguf"]


def test_a_jinja_template_is_what_the_engine_formats_the_chat_with(client: ollama.Client) -> None:
    plain = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}assistant:"
    assert client.create(model="local/plain", from_=LOCAL_MODEL_TAG, template=plain).status == "success"
    assert client.show("local/plain").template == plain
    hello = [{"role": "user", "content": "Who are you?"}]
    base, created = (client.chat(model=name, messages=hello, options=SHORT)
                     for name in (LOCAL_MODEL_TAG, "local/plain"))  # fmt: skip
    # SmolLM2's own template wraps the turn in ChatML after a default system prompt of some 20 tokens
    assert created.message.content.strip() and created.prompt_eval_count < base.prompt_eval_count - 10


def test_bad_input_gets_ollama_shaped_errors(client: ollama.Client, url: str, manage: dict[str, str]) -> None:
    body = b"not the blob its digest names"
    wrong = "sha256:" + hashlib.sha256(b"something else").hexdigest()
    mismatch = httpx.post(f"{url}/api/blobs/{wrong}", content=body, headers=manage)
    assert mismatch.status_code == 400 and "digest mismatch" in mismatch.json()["error"]
    assert httpx.head(f"{url}/api/blobs/{wrong}", headers=manage).status_code == 404  # nothing was kept
    malformed = httpx.post(f"{url}/api/blobs/sha256:..%2F..%2Fetc%2Fpasswd", content=body, headers=manage)
    assert malformed.status_code in (400, 404) and "error" in malformed.json()
    assert httpx.post(f"{url}/api/blobs/sha256:{'A' * 63}", content=body, headers=manage).json()["error"].startswith("invalid digest")
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:  # a petabyte declared, none sent
        key = manage["Authorization"]
        head = f"POST /api/blobs/{wrong} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {key}\r\nContent-Length: {10**15}\r\n\r\n"
        raw.sendall(head.encode())
        assert raw.recv(200).startswith(b"HTTP/1.1 507")

    with pytest.raises(ollama.ResponseError) as unknown:
        client.create(model="local/nothing", from_="local/no-such-model")
    assert unknown.value.status_code == 404 and "no-such-model" in unknown.value.error
    adapter = {"model": "x", "modelfile": f"FROM {LOCAL_MODEL_TAG}\nADAPTER a.gguf"}
    unsupported = httpx.post(f"{url}/api/create", json=adapter, headers=manage)
    assert unsupported.status_code == 400 and unsupported.json()["error"].startswith("modelfile line 2: ADAPTER")
    with pytest.raises(ollama.ResponseError) as unpushable:
        client.push("local/not-here")
    assert unpushable.value.status_code == 404
