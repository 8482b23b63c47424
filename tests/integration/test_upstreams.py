"""Remote models through the local runner: a second compose-models runner (``kind: compose-models``, behind
its own API keys) and bare llama-servers (``kind: openai``) act as upstreams of the runner under test.

All are real processes on this machine, serving the real SmolLM2 model; one llama-server (box-b) runs in
its own network namespace, reached over a veth pair, standing in for another machine. Each upstream's
model appears here under a prefix, and is called with the official openai, anthropic and ollama SDKs."""

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anthropic
import httpx
import ollama
import openai
import pytest

from compose_models.compose import ProjectOptions
from compose_models.orchestrator.deploy import load
from compose_models.orchestrator.override import service_environment
from compose_models.runner.backends import llama_server
from compose_models.runner.upstreams.config import UPSTREAMS_FILE_VARIABLE
from tests.conftest import LOCAL_MODEL_TAG, free_port, require, run_cli
from tests.integration.api.conftest import serving_runner
from tests.integration.gateway.conftest import request_log

pytestmark = pytest.mark.model

CALLER_KEY = "sk-caller-alice-0123456789"  # the local runner's key for its caller
UPSTREAM_KEY = "sk-upstream-local-0123456789"  # the upstream runner's key for the local runner
RUNNER_MODEL = f"gpu/{LOCAL_MODEL_TAG}"  # the upstream runner's model, as the local runner names it
SERVER_MODEL = "box/smollm2"  # the llama-server's
HELLO = [{"role": "user", "content": "Say hello."}]


def _keys_file(folder: Path, line: str) -> Path:
    path = folder / "api-keys"
    path.write_text(line + "\n")
    path.chmod(0o600)
    return path


NETNS = "cm-upstream"  # the other machine's network namespace; a veth pair joins it to this host
HOST_VETH, NETNS_VETH = "cm-up-host", "cm-up-ns"
HOST_ADDRESS, NETNS_ADDRESS = "10.231.17.1", "10.231.17.2"


@contextlib.contextmanager
def _network_namespace() -> Iterator[list[str]]:
    """The namespace ``NETNS``, at ``NETNS_ADDRESS`` from this host; yields the command prefix that runs a
    program in it. Removed afterwards, with its end of the veth pair (and so the pair)."""
    subprocess.run(["ip", "netns", "delete", NETNS], capture_output=True)  # a crashed run's leftover
    for command in (
        f"netns add {NETNS}",
        f"link add {HOST_VETH} type veth peer name {NETNS_VETH} netns {NETNS}",
        f"addr add {HOST_ADDRESS}/24 dev {HOST_VETH}",
        f"link set {HOST_VETH} up",
        f"-n {NETNS} addr add {NETNS_ADDRESS}/24 dev {NETNS_VETH}",
        f"-n {NETNS} link set {NETNS_VETH} up",
    ):
        subprocess.run(["ip", *command.split()], check=True, capture_output=True)
    try:
        yield ["nsenter", f"--net=/var/run/netns/{NETNS}"]
    finally:
        subprocess.run(["ip", "netns", "delete", NETNS], capture_output=True)


@contextlib.contextmanager
def _llama_server(
    gguf: Path, port: int | None = None, slots: int = 1, host: str = "127.0.0.1", prefix: tuple[str, ...] = ()
) -> Iterator[tuple[subprocess.Popen, str]]:
    """A bare llama-server serving SmolLM2 as ``smollm2`` on ``host:port``, run after ``prefix`` (nsenter, to
    run it in a network namespace); yields its process and URL."""
    binary = llama_server.find_binary()
    require(binary is not None, "llama-server is not built: run scripts/build-llama-server.sh")
    port = port or free_port()
    process = subprocess.Popen(
        [*prefix, str(binary), "-m", str(gguf), "--host", host, "--port", str(port), "--alias", "smollm2",
         "-c", str(1024 * slots), "-np", str(slots), "--metrics"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://{host}:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            assert process.poll() is None, "llama-server exited"
            time.sleep(0.1)
        yield process, url
    finally:
        process.kill()
        process.wait(10)


@pytest.fixture(scope="module")
def homes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {name: tmp_path_factory.mktemp(f"upstreams-{name}") for name in ("upstream", "local")}


@pytest.fixture(scope="module")
def llama_server_processes(smollm2_gguf: Path) -> Iterator[list[tuple[subprocess.Popen, str]]]:
    """Two llama-servers, the replicas of box/smollm2: their processes and URLs; the second (box-b) in its
    own network namespace, listening on its end of the veth pair only."""
    with _network_namespace() as in_namespace, _llama_server(smollm2_gguf) as first, _llama_server(
        smollm2_gguf, host=NETNS_ADDRESS, prefix=tuple(in_namespace)
    ) as second:  # fmt: skip
        yield [first, second]


@pytest.fixture(scope="module")
def llama_servers(llama_server_processes: list[tuple[subprocess.Popen, str]]) -> list[str]:
    return [url for _, url in llama_server_processes]


@pytest.fixture(scope="module")
def doomed_port() -> int:
    """The port of the upstream ``doomed``, started and killed by one test."""
    return free_port()


@pytest.fixture(scope="module")
def local_runner(homes: dict[str, Path], smollm2_gguf: Path, llama_servers: list[str], doomed_port: int) -> Iterator[str]:
    """The runner under test, with a key for its caller and seven upstreams: the runner (twice: its models under
    a prefix, and the runner's own SmolLM2 as spill-over for the local one), two llama-servers
    serving box/smollm2 as replicas (health-checked every 0.3 s), one that nothing listens on, ``doomed``
    (nothing listens on it until a test starts it; both checked too rarely to be ejected here), and
    ``down``, which nothing listens on either, ejected at its first failed health check."""
    upstream_keys = _keys_file(homes["upstream"], f"local-runner: {UPSTREAM_KEY}")
    with serving_runner(homes["upstream"], smollm2_gguf, COMPOSE_MODELS_API_KEYS_FILE=str(upstream_keys)) as upstream:
        server_url, replica_url = llama_servers
        upstreams = homes["local"] / "upstreams.yaml"
        upstreams.write_text(f"""
upstreams:
  - name: gpu
    url: {upstream}
    kind: compose-models
    api_key_env: GPU_BOX_KEY
    models: "*"
    prefix: gpu
  - name: gpu-spill
    url: {upstream}
    kind: compose-models
    api_key_env: GPU_BOX_KEY
    models: [{LOCAL_MODEL_TAG}]
    spill_over: true
  - name: box
    url: {server_url}/v1
    models: [smollm2]
    prefix: box
    timeouts: {{connect: 2, read: 60}}
    health: {{path: /health, interval: 0.3, failures: 2}}
  - name: box-b
    url: {replica_url}
    models: [smollm2]
    prefix: box
    health: {{path: /health, interval: 0.3, failures: 2}}
  - name: gone
    url: http://127.0.0.1:{free_port()}
    models: [nothing-here]
    timeouts: {{connect: 2, read: 5}}
    health: {{interval: 3600}}
  - name: doomed
    url: http://127.0.0.1:{doomed_port}
    models: [smollm2]
    prefix: doomed
    health: {{interval: 3600}}
  - name: down
    url: http://127.0.0.1:{free_port()}
    models: [smollm2]
    prefix: down
    health: {{interval: 0.2, failures: 1}}
""")
        local_keys = _keys_file(homes["local"], f"alice: {CALLER_KEY}")
        with serving_runner(
            homes["local"], smollm2_gguf, COMPOSE_MODELS_API_KEYS_FILE=str(local_keys), GPU_BOX_KEY=UPSTREAM_KEY
        ) as url:
            yield url


@pytest.fixture(scope="module")
def client(local_runner: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{local_runner}/engines/v1", api_key=CALLER_KEY, max_retries=0)


def test_remote_models_are_listed_as_remote(client: openai.OpenAI, local_runner: str, homes: dict[str, Path]) -> None:
    listed = {model.id: model for model in client.models.list()}
    assert listed[RUNNER_MODEL].owned_by == "upstream:gpu" and listed[SERVER_MODEL].owned_by == "upstream:box"
    tags = httpx.get(f"{local_runner}/api/tags", headers={"authorization": f"Bearer {CALLER_KEY}"}).json()["models"]
    [remote] = [model for model in tags if model["name"] == SERVER_MODEL]
    assert remote["remote_model"] == "smollm2" and remote["remote_host"].endswith("/v1")
    activity = httpx.get(f"{local_runner}/ui/activity", headers={"authorization": f"Bearer {CALLER_KEY}"}).json()
    assert {"model_name": SERVER_MODEL, "backend_name": "upstream:box-b", "mode": "remote"}.items() <= next(
        row for row in activity["models"] if row["backend_name"] == "upstream:box-b").items()  # the dashboard's rows
    ps = json.loads(run_cli("ps", "--json", env={**os.environ, "COMPOSE_MODELS_HOME": str(homes["local"])}).stdout)
    assert {"model_name": SERVER_MODEL, "backend_name": "upstream:box", "mode": "remote"}.items() <= next(
        entry for entry in ps if entry["model_name"] == SERVER_MODEL).items()
    configure = run_cli("configure", "--context-size", "2048", SERVER_MODEL, check=False,
                        env={**os.environ, "COMPOSE_MODELS_HOME": str(homes["local"])})  # fmt: skip
    assert configure.returncode != 0 and "served by upstream 'box'" in configure.stderr


def test_openai_chat_through_both_upstreams(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model=RUNNER_MODEL, messages=HELLO, max_tokens=8)
    assert reply.choices[0].message.content.strip() and 0 < reply.usage.completion_tokens <= 8
    chunks = list(client.chat.completions.create(
        model=SERVER_MODEL, messages=HELLO, max_tokens=8, stream=True, stream_options={"include_usage": True}
    ))  # fmt: skip
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text.strip() and chunks[-1].usage.completion_tokens == 8


def test_caller_key_stays_here_and_the_upstream_gets_its_own(client: openai.OpenAI, homes: dict[str, Path]) -> None:
    """The upstream runner would refuse the caller's key (401): its log shows every request came with the key
    the local runner read from GPU_BOX_KEY; the local runner's log and metrics name the caller and the
    remote model."""
    before = len(request_log(homes["upstream"], 0))
    stream = client.chat.completions.create(model=RUNNER_MODEL, messages=HELLO, max_tokens=4, stream=True)
    assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices).strip()
    upstream_log = request_log(homes["upstream"], before + 1)
    assert upstream_log[-1]["caller"] == "local-runner" and upstream_log[-1]["model"] == LOCAL_MODEL_TAG
    assert {line["status"] for line in upstream_log} == {200}
    local_log = request_log(homes["local"], 1)
    assert any(line["caller"] == "alice" and line["model"] == RUNNER_MODEL for line in local_log)
    auth = {"authorization": f"Bearer {CALLER_KEY}"}
    metrics = httpx.get(f"{client.base_url.scheme}://{client.base_url.netloc.decode()}/metrics", headers=auth).text
    assert f'compose_models_caller_requests_total{{caller="alice",model="{RUNNER_MODEL}",status="200"}}' in metrics


def test_responses_api_reaches_remote_models(client: openai.OpenAI) -> None:
    response = client.responses.create(model=RUNNER_MODEL, input="Say hello.", max_output_tokens=8)
    assert response.output_text.strip() and response.usage.output_tokens > 0
    events = list(client.responses.create(model=SERVER_MODEL, input="Say hello.", max_output_tokens=8, stream=True))
    assert events[-1].type in ("response.completed", "response.incomplete") and events[-1].response.output_text.strip()


def test_anthropic_and_ollama_clients_reach_remote_models(local_runner: str) -> None:
    claude = anthropic.Anthropic(base_url=f"{local_runner}/anthropic", api_key=CALLER_KEY, max_retries=0)
    message = claude.messages.create(model=SERVER_MODEL, max_tokens=8, messages=HELLO)
    assert message.content[0].text.strip() and message.usage.output_tokens > 0
    with claude.messages.stream(model=RUNNER_MODEL, max_tokens=6, messages=HELLO) as stream:
        assert "".join(stream.text_stream).strip()
    llama = ollama.Client(host=local_runner, headers={"authorization": f"Bearer {CALLER_KEY}"})
    reply = llama.chat(model=RUNNER_MODEL, messages=HELLO, options={"num_predict": 8})
    assert reply.done and reply.message.content.strip()
    parts = list(llama.chat(model=SERVER_MODEL, messages=HELLO, options={"num_predict": 8}, stream=True))
    assert parts[-1].done and "".join(part.message.content for part in parts).strip()
    assert llama.chat(model=SERVER_MODEL, messages=[]).done_reason == "load"  # the upstream loads it itself


def test_a_compose_model_naming_its_upstream_is_served_there(
    client: openai.OpenAI, homes: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stack's model with ``x-upstream: gpu``, loaded as ``up`` loads it (with the runner's upstreams file):
    its service's variables name the runner's name for gpu's model, and a request with it is answered by
    the upstream runner, whose request log has it."""
    monkeypatch.setenv(UPSTREAMS_FILE_VARIABLE, str(homes["local"] / "upstreams.yaml"))
    (tmp_path / "compose.yaml").write_text(
        "services:\n  app: {image: busybox:1.36, models: [llm]}\n"
        f"models:\n  llm:\n    model: {LOCAL_MODEL_TAG}\n    x-upstream: gpu\n"
    )
    _, plan = load(ProjectOptions(files=[str(tmp_path / "compose.yaml")], cwd=tmp_path, environ={}))
    variables = service_environment(plan, str(client.base_url))["app"]
    assert variables["LLM_MODEL"] == RUNNER_MODEL
    before = len(request_log(homes["upstream"], 0))
    reply = client.chat.completions.create(model=variables["LLM_MODEL"], messages=HELLO, max_tokens=4)
    assert reply.choices[0].message.content.strip()
    assert _served_upstream(homes["upstream"], before, expected=1)[0]["caller"] == "local-runner"


def test_an_upstream_that_does_not_answer_is_a_502_naming_it(client: openai.OpenAI, local_runner: str) -> None:
    with pytest.raises(openai.APIStatusError) as raised:
        client.chat.completions.create(model="nothing-here", messages=HELLO, max_tokens=4)
    assert raised.value.status_code == 502 and "upstream 'gone'" in raised.value.message
    answer = httpx.post(f"{local_runner}/anthropic/v1/messages", headers={"x-api-key": CALLER_KEY},
                        json={"model": "nothing-here", "max_tokens": 4, "messages": HELLO})  # fmt: skip
    assert answer.status_code == 502 and answer.json()["type"] == "error"
    assert "upstream 'gone'" in answer.json()["error"]["message"]


def test_a_malformed_upstreams_file_is_refused_naming_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "upstreams.yaml"
    path.write_text("upstreams:\n  - name: a\n    url: http://a:8000\n    models: '*'\n  - name: b\n    models: [m]\n")
    result = run_cli("serve", "--upstreams", str(path), "--port", str(free_port()), check=False, timeout=60)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f"{path}: upstreams[1].url: this key is required" in result.stderr


COUNTING = [{"role": "user", "content": "Count from 1 to 300, one number per line."}]
DYING_STREAMS = {  # path, body, how each API ends a stream with an error
    "openai": ("/engines/v1/chat/completions", {"stream": True, "max_tokens": 400}, 'data: {"error"'),
    "anthropic": ("/anthropic/v1/messages", {"stream": True, "max_tokens": 400}, "event: error"),
    "ollama": ("/api/chat", {"stream": True, "options": {"num_predict": 400}}, '{"error"'),
}


def test_an_upstream_dying_mid_stream_ends_each_api_stream_with_its_error(
    local_runner: str, smollm2_gguf: Path, doomed_port: int
) -> None:
    """Three streams (OpenAI, Anthropic, Ollama) on one llama-server, killed once each has sent something:
    each ends promptly with an error in its API's shape, naming the upstream."""
    headers = {"authorization": f"Bearer {CALLER_KEY}"}
    with _llama_server(smollm2_gguf, doomed_port, slots=3) as (doomed, _), httpx.Client(timeout=30) as http, contextlib.ExitStack() as streams:
        lines = {}
        for api, (path, body, _) in DYING_STREAMS.items():
            answer = streams.enter_context(http.stream("POST", f"{local_runner}{path}", headers=headers, json={
                "model": "doomed/smollm2", "messages": COUNTING, "temperature": 0, **body}))
            assert answer.status_code == 200, answer.read()
            lines[api] = answer.iter_lines()
            assert next(line for line in lines[api] if line.strip())
        doomed.kill()
        started = time.monotonic()
        for api, (_, _, error_mark) in DYING_STREAMS.items():
            rest = list(lines[api])
            assert any(line.startswith(error_mark) for line in rest), (api, rest[-3:])
            assert any("upstream 'doomed'" in line for line in rest), (api, rest[-3:])
        assert time.monotonic() - started < 10


def _predicted_tokens(server: str) -> float:
    metrics = httpx.get(f"{server}/metrics").text
    return float(next(line.split()[-1] for line in metrics.splitlines() if line.startswith("llamacpp:tokens_predicted_total")))


def test_concurrent_streams_spread_over_the_replicas_with_fewest_outstanding(
    client: openai.OpenAI, llama_servers: list[str]
) -> None:
    """16 concurrent streams of box/smollm2 (two llama-servers as replicas, one slot each): each server
    predicts its share of the tokens, as its own metrics count them."""
    before = [_predicted_tokens(server) for server in llama_servers]

    def stream(_: int) -> str:
        chunks = client.chat.completions.create(model=SERVER_MODEL, messages=COUNTING, max_tokens=4, stream=True,
                                                temperature=0)  # fmt: skip
        return "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)

    with ThreadPoolExecutor(16) as pool:
        assert all(text for text in pool.map(stream, range(16)))
    shares = [_predicted_tokens(server) - earlier for server, earlier in zip(llama_servers, before)]
    assert sum(shares) == 16 * 4 and min(shares) >= 4 * 4, shares


def _served_upstream(upstream_home: Path, before: int, expected: int = 0) -> list[dict]:
    """The upstream runner's request-log lines after its ``before`` first ones (once ``expected`` more are
    written), for the local model's name."""
    lines = request_log(upstream_home, before + expected)[before:]
    return [line for line in lines if line["model"] == LOCAL_MODEL_TAG]


def test_a_local_model_spills_over_to_its_upstream_only_once_its_slot_is_taken(
    client: openai.OpenAI, local_runner: str, homes: dict[str, Path]
) -> None:
    """The local SmolLM2 with one parallel slot, and the upstream runner declared ``spill_over`` for it: one
    stream is served locally (the upstream's request log gets nothing); of two at once, the first holds the
    local slot and the second is served by the upstream, which logs it."""
    run_cli("configure", LOCAL_MODEL_TAG, "--", "--parallel", "1",
            env={**os.environ, "COMPOSE_MODELS_HOME": str(homes["local"])})  # fmt: skip
    assert "upstream:gpu-spill" not in {model.owned_by for model in client.models.list()}  # listed once: as local
    before = len(request_log(homes["upstream"], 0))

    def stream() -> str:
        chunks = client.chat.completions.create(model=LOCAL_MODEL_TAG, messages=HELLO, max_tokens=8, stream=True)
        return "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)

    assert stream().strip()
    time.sleep(0.5)  # a line the upstream would write just after answering
    assert _served_upstream(homes["upstream"], before) == []
    headers = {"authorization": f"Bearer {CALLER_KEY}"}
    with httpx.Client(timeout=30) as http, http.stream("POST", f"{local_runner}/engines/v1/chat/completions",
                                                       headers=headers, json={
        "model": LOCAL_MODEL_TAG, "messages": COUNTING, "temperature": 0, "stream": True, "max_tokens": 400,
    }) as held:  # fmt: skip
        lines = held.iter_lines()  # kept: the stream ends when it is closed
        assert next(line for line in lines if line.strip())  # the local slot is taken while it streams
        assert stream().strip()
    served = _served_upstream(homes["upstream"], before, expected=1)
    assert len(served) == 1 and served[0]["caller"] == "local-runner" and served[0]["status"] == 200


def _ejected(local_runner: str, upstream: str) -> bool:
    """Whether ``/engines/ps`` (what ``compose-models ps`` shows) marks ``upstream``'s models ejected."""
    entries = httpx.get(f"{local_runner}/engines/ps", headers={"authorization": f"Bearer {CALLER_KEY}"}).json()
    return any(entry.get("ejected", False) for entry in entries if entry.get("upstream") == upstream)


def _wait_until(condition: Callable[[], bool], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_a_model_whose_replicas_are_all_ejected_is_a_503_naming_it(client: openai.OpenAI, local_runner: str) -> None:
    assert _wait_until(lambda: _ejected(local_runner, "down"))
    with pytest.raises(openai.APIStatusError) as raised:
        client.chat.completions.create(model="down/smollm2", messages=HELLO, max_tokens=4)
    assert raised.value.status_code == 503 and raised.value.body["code"] == "upstream_unavailable"
    assert "model 'down/smollm2' is unavailable: its upstreams ('down') failed their health checks" in raised.value.message
    answer = httpx.post(f"{local_runner}/anthropic/v1/messages", headers={"x-api-key": CALLER_KEY},
                        json={"model": "down/smollm2", "max_tokens": 4, "messages": HELLO})  # fmt: skip
    assert answer.status_code == 503 and answer.json()["type"] == "error"
    assert "model 'down/smollm2' is unavailable" in answer.json()["error"]["message"]


def test_a_killed_replica_is_ejected_and_comes_back_once_it_answers_again(
    client: openai.OpenAI, local_runner: str, llama_server_processes: list[tuple[subprocess.Popen, str]],
    smollm2_gguf: Path,
) -> None:
    """box's llama-server is killed with a stream in flight on it: that stream ends with OpenAI's error event
    naming box; every new request is answered by box-b (sent there again while box is not yet ejected, then
    sent there first), as box-b's own metrics count them; ``ps`` marks box ejected. A llama-server started
    again on box's port gets requests again once a health check passes, as its own metrics count them.
    (Runs last: box stays down after it.)"""
    (box, box_url), (_, other_url) = llama_server_processes
    headers = {"authorization": f"Bearer {CALLER_KEY}"}
    with httpx.Client(timeout=30) as http, http.stream("POST", f"{local_runner}/engines/v1/chat/completions", headers=headers, json={
        "model": SERVER_MODEL, "messages": COUNTING, "temperature": 0, "stream": True, "max_tokens": 400,
    }) as answer:  # fmt: skip
        lines = answer.iter_lines()
        assert next(line for line in lines if line.strip())
        box.kill()
        box.wait(10)
        rest = list(lines)
    assert any(line.startswith('data: {"error"') and "upstream 'box'" in line for line in rest), rest[-3:]

    def answered(count: int) -> float:
        before = _predicted_tokens(other_url)
        for _ in range(count):
            reply = client.chat.completions.create(model=SERVER_MODEL, messages=COUNTING, max_tokens=4, temperature=0)
            assert reply.choices[0].message.content
        return _predicted_tokens(other_url) - before

    assert answered(2) == 2 * 4  # box may not be ejected yet: each is sent to box-b after box refused it
    assert _wait_until(lambda: _ejected(local_runner, "box"))
    assert answered(2) == 2 * 4
    with _llama_server(smollm2_gguf, httpx.URL(box_url).port) as (_, restarted):
        assert _wait_until(lambda: not _ejected(local_runner, "box"))
        client.chat.completions.create(model=SERVER_MODEL, messages=COUNTING, max_tokens=4, temperature=0)
        assert _predicted_tokens(restarted) == 4  # equals in outstanding requests: box, declared first
