"""compose-models as Docker's `docker model` CLI plugin and as a Compose provider, driven the way Docker drives them."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import LOCAL_MODEL_TAG, REPO, cli_headers, run_cli


def _plugin_path() -> Path:
    return Path(os.environ["DOCKER_CONFIG"]) / "cli-plugins" / "docker-model"


def _run_plugin(*args: str) -> subprocess.CompletedProcess:
    """Exec the installed plugin file directly, as Compose does (argv without `model`)."""
    return subprocess.run([str(_plugin_path()), *args], capture_output=True, text=True, timeout=120)


def test_install_registers_a_plugin_that_docker_accepts() -> None:
    assert shutil.which("docker"), "the docker CLI is needed to check plugin discovery"
    result = run_cli("install")
    assert str(_plugin_path()) in result.stdout
    metadata = json.loads(subprocess.run(
        ["docker", "model", "docker-cli-plugin-metadata"], capture_output=True, text=True, check=True
    ).stdout)
    assert metadata["SchemaVersion"] == "0.1.0" and metadata["Vendor"]
    # Compose forwards runtime_flags only to a purely numeric version >= 1.0.6.
    assert tuple(int(part) for part in metadata["Version"].removeprefix("v").split(".")) >= (1, 0, 6)
    listed = subprocess.run(["docker", "--help"], capture_output=True, text=True).stdout
    assert "model*" in listed or " model " in listed
    version = subprocess.run(["docker", "model", "version"], capture_output=True, text=True)
    assert version.returncode == 0 and "compose-models" in version.stdout


def test_install_fails_when_docker_does_not_search_the_plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert shutil.which("docker"), "the docker CLI is needed to check plugin discovery"
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    elsewhere = tmp_path / "not-searched"
    result = run_cli("install", "--plugin-dir", str(elsewhere), check=False)
    assert result.returncode == 1
    assert f"Docker finds no docker-model plugin: {elsewhere} is not a directory Docker searches" in result.stderr


def test_install_refuses_to_replace_another_plugin_without_force() -> None:
    _plugin_path().parent.mkdir(parents=True, exist_ok=True)
    _plugin_path().write_text("#!/bin/sh\necho docker's own\n")
    refused = run_cli("install", check=False)
    assert refused.returncode == 1 and "--force" in refused.stderr
    assert "docker's own" in _plugin_path().read_text()
    assert run_cli("uninstall", check=False).returncode == 1  # not ours: left in place
    run_cli("install", "--force")
    assert "compose-models" in _plugin_path().read_text()
    assert "removed" in run_cli("uninstall").stdout
    assert not _plugin_path().exists()


def test_ls_and_status_print_clean_json_for_compose(packaged_smollm2: str) -> None:
    run_cli("install")
    listed = _run_plugin("ls", "--json")
    assert listed.returncode == 0 and listed.stderr == ""
    tags = json.loads(listed.stdout)[0]["tags"]
    # Compose compares its `model:` string literally against these.
    assert LOCAL_MODEL_TAG in tags and f"docker.io/{LOCAL_MODEL_TAG}" in tags
    status = _run_plugin("status", "--json")
    assert status.returncode == 0 and status.stderr == ""
    assert json.loads(status.stdout)["endpoint"].endswith("/engines/v1/")
    with_prefix = _run_plugin("model", "status", "--json")  # as `docker model status --json` runs it
    assert json.loads(with_prefix.stdout).keys() == json.loads(status.stdout).keys()


def test_configure_as_compose_calls_it(module_runner: str) -> None:
    run_cli("install")
    configured = _run_plugin("configure", "--context-size", "1024", LOCAL_MODEL_TAG, "--", "--temp", "0.2")
    assert configured.returncode == 0, configured.stderr
    refused = _run_plugin("configure", LOCAL_MODEL_TAG, "--", "--model", "x")
    assert refused.returncode == 1 and "'--model'" in refused.stderr


@pytest.mark.parametrize("project_flag", [["--project-name=demo"], ["--project-name", "demo"]])
def test_provider_up_emits_variables(module_runner: str, project_flag: list[str]) -> None:
    """Each form configures the model as the other does: the runner they share gives the same answers."""
    result = run_cli("compose", *project_flag, "up", f"--model={LOCAL_MODEL_TAG}", "--context-size=1024", "llm")
    messages = [json.loads(line) for line in result.stdout.splitlines()]
    assert {message["type"] for message in messages} <= {"info", "setenv"}
    setenv = dict(message["message"].split("=", 1) for message in messages if message["type"] == "setenv")
    assert setenv["MODEL"] == LOCAL_MODEL_TAG
    assert setenv["URL"].endswith("/engines/v1/")
    assert any(message["message"].startswith(f"llm: loaded {LOCAL_MODEL_TAG} in ") for message in messages)
    again = run_cli("compose", *project_flag, "up", f"--model={LOCAL_MODEL_TAG}", "--context-size=1024", "llm")
    # idempotent: Compose calls up on every `docker compose up` (but for how long the load took)
    assert _untimed(again.stdout) == _untimed(result.stdout)


def _untimed(output: str) -> str:
    return re.sub(r" in [0-9.]+ s", " in N s", output)


def test_provider_up_configures_a_draft_model(module_runner: str) -> None:
    run_cli("compose", "--project-name=demo", "up", f"--model={LOCAL_MODEL_TAG}",
            f"--speculative-draft-model={LOCAL_MODEL_TAG}", "llm")  # fmt: skip
    [entry] = httpx.get(f"{module_runner}/engines/_configure", params={"model": LOCAL_MODEL_TAG},
                        headers=cli_headers(), timeout=10).json()  # fmt: skip
    assert entry["Config"]["speculative"] == {"draft_model": LOCAL_MODEL_TAG}
    refused = run_cli("compose", "--project-name=demo", "up", f"--model={LOCAL_MODEL_TAG}",
                      "--runtime-flags=--model-draft /etc/passwd", "llm", check=False)  # fmt: skip
    assert refused.returncode == 1 and "not a path" in refused.stdout


def test_provider_metadata_and_errors() -> None:
    metadata = json.loads(run_cli("compose", "metadata").stdout)
    assert [p["name"] for p in metadata["up"]["parameters"]] == [
        "model", "context-size", "runtime-flags", "preset", "speculative-draft-model",
    ]  # fmt: skip
    assert "stop" in metadata
    failed = run_cli("compose", "--project-name=demo", "up", "llm", check=False)
    assert failed.returncode == 1
    assert json.loads(failed.stdout.splitlines()[-1]) == {
        "type": "error", "message": "provider service 'llm': the `model` option is required"
    }


def test_install_places_the_plugin_shim_from_providers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    run_cli("install")
    template = (REPO / "providers" / "docker-model").read_text()
    assert _plugin_path().read_text() == template.replace("@PYTHON@", sys.executable)
    assert os.access(_plugin_path(), os.X_OK)
    handshake = _run_plugin("docker-cli-plugin-metadata")
    assert handshake.returncode == 0, handshake.stderr
    assert json.loads(handshake.stdout)["Vendor"] == "compose-models"


def test_install_provider_dir_places_the_entry_compose_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`provider: {type: compose-models}` runs the entry found on PATH; `type: model` runs the docker-model plugin."""
    assert shutil.which("docker"), "the docker CLI is needed to run Compose"
    bin_dir = tmp_path / "bin"
    outside = run_cli("install", "--provider-dir", str(bin_dir), check=False)
    assert outside.returncode == 1 and f"{bin_dir} is not on PATH" in outside.stderr

    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    installed = run_cli("install", "--provider-dir", str(bin_dir))
    assert f"Compose runs {bin_dir / 'compose-models'}" in installed.stdout
    entry = bin_dir / "compose-models"
    assert entry.read_text() == (REPO / "providers" / "compose-models").read_text().replace("@PYTHON@", sys.executable)

    project = tmp_path / "project"
    project.mkdir()
    (project / "compose.yaml").write_text(
        "services:\n"
        "  llm:\n    provider: {type: compose-models, options: {context-size: 1024}}\n"
        "  plugin-llm:\n    provider: {type: model, options: {context-size: 1024}}\n"
    )
    name = f"providers-{os.getpid()}"
    for service, provider_type in (("llm", "compose-models"), ("plugin-llm", "model")):
        up = subprocess.run(["docker", "compose", "-f", str(project / "compose.yaml"), "-p", name, "up", service],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
        # Only our metadata declares `model` as required: Compose ran our shim and read its answer.
        assert up.returncode == 1
        assert f'required parameter "model" is missing from provider "{provider_type}"' in up.stdout + up.stderr
        saved = json.loads((Path(os.environ["DOCKER_CONFIG"]) / "compose" / "providers" / f"{provider_type}.json").read_text())
        assert saved["description"].startswith("Serve a model on the host with compose-models")

    entry.write_text("#!/bin/sh\necho pip's console script\n")
    refused = run_cli("install", "--provider-dir", str(bin_dir), check=False)
    assert refused.returncode == 1 and "pass --force" in refused.stderr and "pip's console script" in entry.read_text()
    run_cli("install", "--provider-dir", str(bin_dir), "--force")
    assert "removed the compose-models provider entry" in run_cli("uninstall", "--provider-dir", str(bin_dir)).stdout
    assert not entry.exists()
