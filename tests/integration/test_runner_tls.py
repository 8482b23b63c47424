"""A runner serving TLS: the official OpenAI SDK verifies its self-signed chain through the CA file, a
plain-HTTP client is told to use https://, the CLI trusts the certificate its runner serves (also one the
user brings, for another name), containers keep plain HTTP on the local Docker bridge, and doctor shows
the certificate."""

import json
import os
import shutil
import ssl
import stat
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import LOCAL_MODEL_TAG, free_port, run_cli


@pytest.fixture
def tls_runner(packaged_smollm2: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    port = free_port()
    monkeypatch.setenv("COMPOSE_MODELS_PORT", str(port))
    run_cli("serve", "--detach", "--tls-self-signed")
    try:
        yield port
    finally:
        run_cli("stop", check=False)


def test_clients_verify_the_self_signed_chain_and_plain_http_is_told_to_use_https(
    tls_runner: int, isolated_home: Path
) -> None:
    ca = isolated_home / "runner" / "tls" / "ca.pem"
    with httpx.Client(verify=ssl.create_default_context(cafile=ca)) as verified:
        client = openai.OpenAI(base_url=f"https://localhost:{tls_runner}/engines/v1", api_key="unused", http_client=verified)
        answer = client.chat.completions.create(
            model=LOCAL_MODEL_TAG, max_tokens=2, temperature=0, messages=[{"role": "user", "content": "Hi"}]
        )
        assert answer.choices[0].message.content
        assert verified.get(f"https://127.0.0.1:{tls_runner}/engines/status").status_code == 200

    unverified = openai.OpenAI(base_url=f"https://localhost:{tls_runner}/engines/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.APIConnectionError):  # the system's CAs do not vouch for it
        unverified.models.list()

    plain = httpx.get(f"http://127.0.0.1:{tls_runner}/engines/v1/models")
    assert plain.status_code == 400 and "this port speaks TLS: use https://" in plain.text

    status = json.loads(run_cli("status", "--json").stdout)
    assert status["endpointHost"] == f"https://127.0.0.1:{tls_runner}/engines/v1/"
    assert status["tls"]["ca"] == str(ca) and status["tls"]["forContainers"] is False
    state = json.loads((isolated_home / "runner" / "state.json").read_text())
    for bridge in state["hosts"][1:]:  # a local engine's bridge: containers keep plain HTTP there
        assert httpx.get(f"http://{bridge}:{tls_runner}/engines/status").status_code == 200
        assert status["endpoint"].startswith("http://")
    assert LOCAL_MODEL_TAG in run_cli("ps").stdout
    # The CLI's own chat goes over TLS too. `run` asks for no max_tokens, and a sampled SmolLM2 may go on to
    # its context's end (8192 tokens: minutes): the model's configuration bounds it.
    run_cli("configure", LOCAL_MODEL_TAG, "--", "--n-predict", "16")
    assert run_cli("run", LOCAL_MODEL_TAG, "Say Hi").stdout.strip()

    from compose_models.doctor.docker_side import tls_finding

    finding = tls_finding()
    assert finding.status == "ok", finding
    assert "localhost, 127.0.0.1" in finding.found and "host.docker.internal" in finding.found
    assert "valid until" in finding.found and str(ca) in finding.found


# A stand-in for Claude Code on Node, as the real one runs: it asks the runner at the URL launch gave it, with
# Node's own fetch, which trusts the system's CAs and NODE_EXTRA_CA_CERTS' only.
NODE_STAND_IN = textwrap.dedent("""\
    #!/usr/bin/env node
    const fs = require("fs");
    const env = process.env;
    const body = {model: env.ANTHROPIC_MODEL, max_tokens: 4, messages: [{role: "user", content: "Say hi."}]};
    fetch(`${env.ANTHROPIC_BASE_URL}/v1/messages`, {method: "POST", body: JSON.stringify(body),
        headers: {"content-type": "application/json", authorization: `Bearer ${env.ANTHROPIC_AUTH_TOKEN}`}})
      .then(answer => answer.json())
      .then(answer => { fs.writeFileSync(env.STAND_IN_RECORD, JSON.stringify({answer: answer.content[0].text, environment: env})); process.exit(7); })
      .catch(error => { fs.writeFileSync(env.STAND_IN_RECORD, JSON.stringify({error: String(error.cause || error)})); process.exit(3); });
""")


def test_launch_hands_node_and_python_agents_the_local_ca_and_they_reach_the_runner_over_tls(
    tls_runner: int, isolated_home: Path, tmp_path: Path
) -> None:
    from tests.conftest import require
    from tests.integration.api.test_launch import _stand_in

    require(shutil.which("node") is not None, "Node.js (scripts/setup.sh), the runtime of Claude Code and opencode")
    ca = str(isolated_home / "runner" / "tls" / "ca.pem")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _stand_in(bin_dir, "aider")  # Python, with httpx as aider's OpenAI client
    (bin_dir / "claude").write_text(NODE_STAND_IN)
    (bin_dir / "claude").chmod(stat.S_IRWXU)
    environment = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "STAND_IN_RECORD": str(tmp_path / "record.json")}
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"):
        environment.pop(name, None)
    for agent, base_url, trust in (("claude", "ANTHROPIC_BASE_URL", ("NODE_EXTRA_CA_CERTS",)),
                                   ("aider", "OPENAI_API_BASE", ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"))):  # fmt: skip
        (tmp_path / "record.json").unlink(missing_ok=True)
        result = run_cli("launch", agent, check=False, env=environment)
        assert (tmp_path / "record.json").exists(), result.stderr  # the Python stand-in ends at a refused certificate
        record = json.loads((tmp_path / "record.json").read_text())
        assert result.returncode == 7, record  # the agent's own exit code, once it had its answer
        assert record["answer"].strip()
        assert record["environment"][base_url].startswith(f"https://127.0.0.1:{tls_runner}/")
        assert {name: record["environment"][name] for name in trust} == dict.fromkeys(trust, ca)
    codex = run_cli("launch", "codex", "--print", env=environment).stdout
    assert f"export CODEX_CA_CERTIFICATE={ca}" in codex and f"export NODE_EXTRA_CA_CERTS={ca}" in codex


def test_the_cli_trusts_a_certificate_the_user_brings_for_another_name(
    isolated_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from compose_models.runner.control.tls import issue_self_signed

    own = issue_self_signed(["gpu-box.lan"], tmp_path / "own-ca")  # not 127.0.0.1, where the CLI calls
    port = free_port()
    monkeypatch.setenv("COMPOSE_MODELS_PORT", str(port))
    run_cli("serve", "--detach", "--tls-cert", str(own.cert), "--tls-key", str(own.key))
    try:
        assert run_cli("ps", "--json").stdout.strip() == "[]"
        assert "host: https://127.0.0.1" in run_cli("status").stdout
        # A certificate the user brings chains to a CA of theirs, which launch has no file of to hand on.
        printed = run_cli("launch", "claude", "--print", "--model", LOCAL_MODEL_TAG).stdout
        assert f"ANTHROPIC_BASE_URL=https://127.0.0.1:{port}/anthropic" in printed and "NODE_EXTRA_CA_CERTS" not in printed
    finally:
        run_cli("stop", check=False)

    refused = run_cli("serve", "--tls-cert", str(own.cert), check=False)
    assert refused.returncode != 0 and "--tls-cert and --tls-key go together" in refused.stderr
    mismatched = run_cli("serve", "--tls-cert", str(own.cert), "--tls-key", str(own.ca), check=False)
    assert mismatched.returncode != 0 and "not a PEM certificate and its private key" in mismatched.stderr


def test_with_tls_for_containers_a_container_reaches_the_runner_over_https(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import require_docker_and_busybox

    require_docker_and_busybox()
    port = free_port()
    monkeypatch.setenv("COMPOSE_MODELS_PORT", str(port))
    run_cli("serve", "--detach", "--tls-self-signed", "--tls-for-containers")
    try:
        # The reach probe's container fetched the runner's proof over https (busybox's wget, TLS 1.2).
        status = json.loads(run_cli("status", "--json").stdout)
        assert status["endpoint"].startswith("https://") and status["reach"]["probed"] is True
        assert status["tls"]["forContainers"] is True
        state = json.loads((isolated_home / "runner" / "state.json").read_text())
        for bridge in state["hosts"][1:]:  # plain HTTP is refused there too now
            plain = httpx.get(f"http://{bridge}:{port}/engines/status")
            assert plain.status_code == 400 and "use https://" in plain.text
    finally:
        run_cli("stop", check=False)
