"""A runner whose upstream is hostile (a stand-in on loopback, hostile_upstream.py) and whose callers hold
inference keys: the upstream's answers are bounded in size and time, its redirects are errors, its URL's
password is never shown, and an inference caller cannot make the runner use the host's registry credentials.

The runner is a real process with no local model, so it starts in about a second and loads no engine."""

import base64
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from compose_models.store import ModelStore, package_gguf
from tests.conftest import free_port, proc_dir
from tests.integration.gateway.conftest import ADMIN_KEY, bearer, write_keys_file
from tests.integration.hostile_upstream import (
    ENDLESS_FRAME,
    HUGE_ERROR,
    HUGE_JSON,
    REDIRECT,
    HostileUpstream,
    hostile_upstream,
)  # fmt: skip
from tests.integration.store.hostile_registry import HostileRegistry, hostile_registry
from tests.unit.store.ggufs import write_gguf

PASSWORD = "upstream-s3cret-pw"  # in the upstream's URL
REGISTRY_AUTH = base64.b64encode(b"host-user:host-registry-pw").decode()  # the host's, in its DOCKER_CONFIG
HELLO = [{"role": "user", "content": "Hi"}]


def _start_runner(home: Path, upstreams: str, docker_config: Path | None = None) -> tuple[subprocess.Popen, str, Path]:
    """``compose-models serve`` in the foreground with ``upstreams`` as its upstreams file and the gateway's
    keys (alice: inference, root: admin); its process, URL and log. It is not waited for."""
    home.mkdir(exist_ok=True)
    (home / "upstreams.yaml").write_text(upstreams)
    environment = {
        **os.environ, "COMPOSE_MODELS_HOME": str(home),
        "COMPOSE_MODELS_API_KEYS_FILE": str(write_keys_file(home.parent / f"{home.name}-api-keys")),
        "DOCKER_CONFIG": str(docker_config or home / "docker"),
    }  # fmt: skip
    port = free_port()
    log = home / "runner.log"
    with open(log, "wb") as output:
        process = subprocess.Popen([sys.executable, "-m", "compose_models", "serve", "--port", str(port)],
                                   env=environment, stdout=output, stderr=subprocess.STDOUT)  # fmt: skip
    return process, f"http://127.0.0.1:{port}", log


def _answers_status(url: str, process: subprocess.Popen, log: Path, within: float) -> float:
    """The monotonic time at which the runner's ``/engines/status`` first answered; fails after ``within`` seconds."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        assert process.poll() is None, f"the runner exited: {log.read_text()}"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/engines/status", timeout=1).status_code == 200:
                return time.monotonic()
        time.sleep(0.1)
    raise AssertionError(f"/engines/status did not answer within {within:g}s:\n{log.read_text()}")


@contextlib.contextmanager
def _stopped_after(process: subprocess.Popen) -> Iterator[None]:
    try:
        yield
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def upstream() -> Iterator[HostileUpstream]:
    with hostile_upstream() as server:
        yield server


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileRegistry]:
    """A stand-in registry serving a private model as team/private:v1."""
    folder = tmp_path_factory.mktemp("private-model")
    store = ModelStore(folder / "store")
    model = package_gguf(store, write_gguf(folder / "m.gguf", tensor_rows=16), "team/private")
    digests = [layer.digest for layer in model.layers] + [model.manifest["config"]["digest"]]
    with hostile_registry() as server:
        server.challenge = 'Basic realm="stand-in"'  # private: only the host's credentials open it
        server.serve("team/private", "v1", store.raw_manifest(model.id),
                     {digest: store.blobs.read_bytes(digest) for digest in digests})  # fmt: skip
        yield server


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory, upstream: HostileUpstream, registry: HostileRegistry) -> Iterator[tuple[str, int]]:
    """The runner, with the stand-in upstream (its URL holding a password) serving the hostile models as
    ``hostile/<model>``, and the host's credentials for the stand-in registry; its URL and process id."""
    home = tmp_path_factory.mktemp("hostile-upstream-runner")
    docker_config = home / "docker"
    docker_config.mkdir()
    (docker_config / "config.json").write_text(json.dumps({"auths": {registry.address: {"auth": REGISTRY_AUTH}}}))
    upstreams = (f"upstreams:\n  - name: hostile\n    url: http://stand-in:{PASSWORD}@127.0.0.1:{upstream.port}/v1\n"
                 f"    prefix: hostile\n    models: [{HUGE_JSON}, {HUGE_ERROR}, {ENDLESS_FRAME}, {REDIRECT}]\n")  # fmt: skip
    process, url, log = _start_runner(home, upstreams, docker_config)
    with _stopped_after(process):
        _answers_status(url, process, log, within=30)
        yield url, process.pid


def _chat(url: str, model: str, **fields: object) -> httpx.Response:
    body = {"model": f"hostile/{model}", "messages": HELLO, **fields}
    return httpx.post(f"{url}/v1/chat/completions", json=body, headers=bearer("alice"), timeout=30)


def _memory_kib(pid: int, field: str) -> int:
    """``VmRSS`` (resident now) or ``VmHWM`` (the most it has been resident) of process ``pid``, in KiB."""
    for line in (proc_dir() / str(pid) / "status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def test_a_huge_whole_answer_is_refused_without_growing_the_runners_memory(runner: tuple[str, int]) -> None:
    url, pid = runner
    _chat(url, REDIRECT)  # the code paths of an upstream call, loaded before measuring
    before = _memory_kib(pid, "VmRSS")
    answer = _chat(url, HUGE_JSON)  # 128 MiB of JSON
    peak_rise = (_memory_kib(pid, "VmHWM") - before) // 1024
    assert peak_rise < 48, f"the runner's resident memory rose by {peak_rise} MiB for one answer"
    assert answer.status_code == 502, answer.text[:300]
    assert answer.json()["error"]["type"] == "server_error"
    assert "upstream 'hostile'" in answer.json()["error"]["message"]
    assert "larger than 16 MiB" in answer.json()["error"]["message"]


def test_a_huge_error_body_reaches_the_caller_cut(runner: tuple[str, int]) -> None:
    answer = _chat(runner[0], HUGE_ERROR)  # a 500 with 128 MiB of text
    assert answer.status_code == 502
    message = answer.json()["error"]["message"]
    assert message.startswith("upstream 'hostile' answered 500: aaaa")
    assert len(message) < 5000
    assert "more characters cut" in message


def test_a_frame_that_never_ends_ends_the_stream_promptly_with_an_error(runner: tuple[str, int]) -> None:
    started = time.monotonic()
    answer = _chat(runner[0], ENDLESS_FRAME, stream=True)  # 128 MiB after "data: ", and no blank line
    took = time.monotonic() - started
    # Rescanning the whole buffer for every chunk took 21 s for 16 MiB: the stream would time out here.
    assert took < 10, f"the stream took {took:.1f}s to end"
    assert answer.status_code == 200
    frames = [line for line in answer.text.splitlines() if line.startswith("data: ")]
    assert len(frames) == 1
    error = json.loads(frames[0].removeprefix("data: "))["error"]
    assert "upstream 'hostile'" in error["message"] and "larger than 1024 KiB" in error["message"]


def test_an_upstream_redirect_is_an_upstream_error_not_an_answer(runner: tuple[str, int]) -> None:
    answer = _chat(runner[0], REDIRECT)
    assert answer.status_code == 502, answer.text
    message = answer.json()["error"]["message"]
    assert message.startswith("upstream 'hostile' answered 307, a redirect to 'http://127.0.0.1:9/v1/chat/completions'")
    ollama = httpx.post(f"{runner[0]}/api/chat", json={"model": f"hostile/{REDIRECT}", "messages": HELLO, "stream": False},
                        headers=bearer("alice"), timeout=30)  # fmt: skip
    assert ollama.status_code == 502 and "answered 307" in ollama.json()["error"]


def test_an_inference_caller_sees_no_password_of_the_upstreams_url(runner: tuple[str, int], upstream: HostileUpstream) -> None:
    tags = httpx.get(f"{runner[0]}/api/tags", headers=bearer("alice"), timeout=10)
    assert tags.status_code == 200
    remote = [model for model in tags.json()["models"] if model["name"] == f"hostile/{HUGE_JSON}"]
    assert remote and remote[0]["remote_host"] == f"http://127.0.0.1:{upstream.port}/v1"
    for path in ("/api/tags", "/v1/models", "/engines/v1/models", "/engines/ps", "/engines/status"):
        shown = httpx.get(f"{runner[0]}{path}", headers=bearer("alice"), timeout=10)
        assert PASSWORD not in shown.text and "stand-in:" not in shown.text, path


def test_an_inference_caller_cannot_make_the_runner_ask_a_registry_with_the_hosts_credentials(
    runner: tuple[str, int], registry: HostileRegistry
) -> None:
    reference = f"{registry.address}/team/private:v1"
    for query in ("remote=1", "remote", "remote=true"):
        refused = httpx.get(f"{runner[0]}/models/{reference}?{query}", headers=bearer("alice"), timeout=30)
        assert refused.status_code == 403, refused.text
    assert registry.requests == []
    local = httpx.get(f"{runner[0]}/models/{reference}", headers=bearer("alice"), timeout=30)
    assert local.status_code == 404  # the store's own model (none here): still an inference caller's to read
    admitted = httpx.get(f"{runner[0]}/models/{reference}?remote=1", headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30)
    assert admitted.status_code == 200, admitted.text
    assert admitted.json()["config"]["format"] == "gguf"
    assert f"Basic {REGISTRY_AUTH}" in registry.authorizations()


def _trickling_upstreams(port: int, settings: str = "") -> str:
    return f"upstreams:\n  - name: slow\n    url: http://stand-in:{PASSWORD}@127.0.0.1:{port}\n    models: '*'\n    health: {{interval: 600}}\n{settings}"


def test_a_trickled_model_list_does_not_hold_up_start_up(tmp_path: Path) -> None:
    with hostile_upstream(trickle=0.5) as trickling:  # the list's ~180 bytes would take 90 s
        process, url, log = _start_runner(tmp_path / "home", _trickling_upstreams(trickling.port))
        with _stopped_after(process):
            answered = _answers_status(url, process, log, within=60)
            # Measured from the list's request (made as the runner starts), not from the process's start, which
            # takes seconds of imports on a busy machine.
            assert answered - trickling.listed[0] < 10, f"/engines/status answered {answered - trickling.listed[0]:.1f}s after"


def test_a_trickled_model_list_is_given_up_at_its_deadline(tmp_path: Path) -> None:
    with hostile_upstream(trickle=0.5) as trickling:
        upstreams = _trickling_upstreams(trickling.port, "    timeouts: {listing: 1}\n")
        process, url, log = _start_runner(tmp_path / "home", upstreams)
        with _stopped_after(process):
            _answers_status(url, process, log, within=60)
            deadline = time.monotonic() + 10
            while not trickling.gone and time.monotonic() < deadline:
                time.sleep(0.1)
            assert trickling.gone, f"the runner still reads the trickled list:\n{log.read_text()}"
            assert f"cannot list its models at http://127.0.0.1:{trickling.port}/v1/models: it did not send its list " \
                   "within 1s (timeouts.listing)" in log.read_text()
            assert PASSWORD not in log.read_text()
            listed = httpx.get(f"{url}/v1/models", headers=bearer("alice"), timeout=10)
            assert listed.status_code == 200 and listed.json()["data"] == []
