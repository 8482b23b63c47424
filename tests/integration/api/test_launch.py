"""``compose-models launch``: the agents it knows, the configuration it hands each (printed with --print,
writing nothing into HOME), the install line for a missing one, and a stand-in agent on PATH that gets an
answer from the real runner at the URL, model and key launch gave it."""

import json
import os
import stat
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import LOCAL_MODEL_TAG, run_cli

pytestmark = pytest.mark.model

# A stand-in for an agent, named like it: it records what launch gave it (argv, environment, the config
# file it was pointed at) and asks the runner at that URL a real question with that model and key.
STAND_IN = textwrap.dedent('''\
    #!{python}
    """A stand-in for {agent}, for compose-models' launch tests."""
    import json, os, sys
    import httpx
    record = {{"argv": sys.argv, "environment": dict(os.environ)}}
    if "{agent}" == "aider":
        base, key = os.environ["OPENAI_API_BASE"], os.environ["OPENAI_API_KEY"]
        model = sys.argv[sys.argv.index("--model") + 1].removeprefix("openai/")
        metadata = sys.argv[sys.argv.index("--model-metadata-file") + 1]
        record["config"] = json.loads(open(metadata).read())
        body = {{"model": model, "messages": [{{"role": "user", "content": "Say hi."}}], "max_tokens": 4}}
        answer = httpx.post(f"{{base}}/chat/completions", json=body, headers={{"Authorization": f"Bearer {{key}}"}}, timeout=60)
        record["answer"] = answer.json()["choices"][0]["message"]["content"]
    else:
        base, key = os.environ["ANTHROPIC_BASE_URL"], os.environ["ANTHROPIC_AUTH_TOKEN"]
        body = {{"model": os.environ["ANTHROPIC_MODEL"], "max_tokens": 4, "messages": [{{"role": "user", "content": "Say hi."}}]}}
        answer = httpx.post(f"{{base}}/v1/messages", json=body, headers={{"Authorization": f"Bearer {{key}}"}}, timeout=60)
        record["answer"] = answer.json()["content"][0]["text"]
    open(os.environ["STAND_IN_RECORD"], "w").write(json.dumps(record))
    sys.exit(7)
''')


def _environment(api_home: Path, home: Path, path: str) -> dict[str, str]:
    return {**os.environ, "COMPOSE_MODELS_HOME": str(api_home), "HOME": str(home), "PATH": path}


def _stand_in(directory: Path, agent: str) -> None:
    script = directory / agent
    script.write_text(STAND_IN.format(python=sys.executable, agent=agent))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def test_list_names_every_agent(api_home: Path, tmp_path: Path) -> None:
    listed = run_cli("launch", "--list", env=_environment(api_home, tmp_path, os.environ["PATH"])).stdout
    assert [line.split()[0] for line in listed.splitlines()] == ["codex", "claude", "opencode", "aider", "openwebui"]


def test_print_shows_the_runner_url_and_model_and_writes_nothing_into_home(api_runner: str, api_home: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    environment = _environment(api_home, home, "/usr/bin:/bin")  # no agent installed: --print needs none
    codex = run_cli("launch", "codex", "--print", env=environment).stdout
    assert f'base_url = "{api_runner}/v1"' in codex and 'wire_api = "responses"' in codex
    assert f'model = "{LOCAL_MODEL_TAG}"' in codex and 'export CODEX_HOME="$LAUNCH_DIR"' in codex
    assert "model_context_window = " in codex
    claude = run_cli("launch", "claude", "--print", "--", "-p", "hi", env=environment).stdout
    assert f"export ANTHROPIC_BASE_URL={api_runner}/anthropic" in claude
    assert f"export ANTHROPIC_MODEL={LOCAL_MODEL_TAG}" in claude and claude.rstrip().endswith("claude -p hi")
    assert "NODE_EXTRA_CA_CERTS" not in claude  # plain HTTP: no CA to trust
    opencode = run_cli("launch", "opencode", "--print", env=environment).stdout
    config = json.loads(opencode.split("<<'EOF'\n")[1].split("\nEOF")[0])
    assert config["provider"]["compose-models"]["options"]["baseURL"] == f"{api_runner}/v1"
    assert config["model"] == f"compose-models/{LOCAL_MODEL_TAG}"
    aider = run_cli("launch", "aider", "--print", env=environment).stdout
    assert f"export OPENAI_API_BASE={api_runner}/v1" in aider and f"--model openai/{LOCAL_MODEL_TAG}" in aider
    assert list(home.iterdir()) == []


def test_a_missing_agent_gets_its_install_line(api_runner: str, api_home: Path, tmp_path: Path) -> None:
    result = run_cli("launch", "codex", check=False, env=_environment(api_home, tmp_path, "/usr/bin:/bin"))
    assert result.returncode == 1
    assert "npm install -g @openai/codex" in result.stderr


@pytest.mark.parametrize("agent", ["aider", "claude"])
def test_a_stand_in_agent_gets_an_answer_from_the_runner(agent: str, api_runner: str, api_home: Path, tmp_path: Path) -> None:
    bin_dir, home = tmp_path / "bin", tmp_path / "home"
    bin_dir.mkdir()
    home.mkdir()
    _stand_in(bin_dir, agent)
    environment = {**_environment(api_home, home, f"{bin_dir}:/usr/bin:/bin"), "STAND_IN_RECORD": str(tmp_path / "record.json")}
    result = run_cli("launch", agent, "--", "--yes", check=False, env=environment)
    assert result.returncode == 7, result.stderr  # the agent's own exit code
    record = json.loads((tmp_path / "record.json").read_text())
    assert record["answer"].strip()
    assert record["argv"][-1] == "--yes"
    if agent == "aider":
        assert record["environment"]["OPENAI_API_BASE"] == f"{api_runner}/v1"
        assert record["config"][f"openai/{LOCAL_MODEL_TAG}"]["max_input_tokens"] > 0
    else:
        assert record["environment"]["ANTHROPIC_BASE_URL"] == f"{api_runner}/anthropic"
        assert record["environment"]["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"
    assert list(home.iterdir()) == []


def test_with_keys_on_the_agent_gets_an_inference_key_of_its_own(tmp_path: Path, smollm2_gguf: Path) -> None:
    from tests.integration.api.conftest import serving_runner

    admin = "sk-root-5555555555"
    runner_home = tmp_path / "runner-home"
    with serving_runner(runner_home, smollm2_gguf, COMPOSE_MODELS_API_KEYS=f"root:{admin}") as url:
        bin_dir, home = tmp_path / "bin", tmp_path / "home"
        bin_dir.mkdir()
        home.mkdir()
        _stand_in(bin_dir, "aider")
        environment = {**_environment(runner_home, home, f"{bin_dir}:/usr/bin:/bin"), "STAND_IN_RECORD": str(tmp_path / "record.json")}
        result = run_cli("launch", "aider", check=False, env=environment)
        assert result.returncode == 7, result.stderr
        record = json.loads((tmp_path / "record.json").read_text())
        assert record["answer"].strip()  # the key was taken
        key = record["environment"]["OPENAI_API_KEY"]
        local_cli_key = (runner_home / "runner" / "local-api-key").read_text().strip()
        assert key.startswith("cm-svc.") and key not in (admin, local_cli_key)
        printed = run_cli("launch", "claude", "--print", env=environment).stdout
        assert "export ANTHROPIC_AUTH_TOKEN=cm-svc." in printed and url in printed


def test_openwebui_is_a_docker_run_line_at_the_container_route(api_runner: str, api_home: Path, tmp_path: Path) -> None:
    """--print, so that no container is started whether or not the image is on this engine."""
    environment = _environment(api_home, tmp_path, os.environ["PATH"])
    result = run_cli("launch", "openwebui", "--print", env=environment)
    endpoint = json.loads(run_cli("status", "--json", env=environment).stdout)["endpoint"].rstrip("/").removesuffix("/engines/v1")
    [line] = [line for line in result.stdout.splitlines() if line.startswith("docker run")]
    assert f"OLLAMA_BASE_URL={endpoint} " in line and f"OPENAI_API_BASE_URL={endpoint}/v1 " in line
    assert line.endswith("ghcr.io/open-webui/open-webui:main")
