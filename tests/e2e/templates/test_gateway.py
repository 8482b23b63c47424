"""The gateway template end to end: its llm-gateway image built for real (compose-models from this checkout,
installed offline from a folder of wheels), the app's answer arriving through it, and the gateway knowing the
app as its key's caller."""

import json
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO, free_port, run_cli
from tests.e2e.templates.conftest import docker_compose

pytestmark = pytest.mark.docker

GATEWAY_REQUIREMENTS = REPO / "compose_models/templates/gateway/llm-gateway/requirements.txt"
REQUEST_LOG = "/var/lib/llm-gateway/gateway/logs/requests.jsonl"  # the image's COMPOSE_MODELS_HOME


@pytest.fixture(scope="session")
def gateway_wheels(python_base_image: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel of this checkout and the wheels of the gateway's requirements for the base image's Python.

    A build on this machine has no network, so the test fills the stack's llm-gateway/wheels/ with these, as
    its README says a team without network would; the Dockerfile's `pip install compose-models` then reads
    nothing but them."""
    wheels = tmp_path_factory.mktemp("gateway-wheels")
    # Built from a copy: setuptools would leave build/ and *.egg-info in the checkout.
    source = tmp_path_factory.mktemp("compose-models-source")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source)
    for name in ("compose_models", "providers"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    built = subprocess.run([*pip, "wheel", "--no-deps", "-w", str(wheels), str(source)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    version = "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')"
    image_python = subprocess.run(
        ["docker", "run", "--rm", python_base_image, "python3", "-c", version], capture_output=True, text=True, check=True
    ).stdout.strip()
    tags = ("manylinux_2_28", "manylinux_2_17", "manylinux2014")
    platforms = [argument for tag in tags for argument in ("--platform", f"{tag}_{platform.machine()}")]
    downloaded = subprocess.run(
        [*pip, "download", "--only-binary", ":all:", "--python-version", image_python, *platforms,
         "-d", str(wheels), "-r", str(GATEWAY_REQUIREMENTS)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert downloaded.returncode == 0, downloaded.stderr
    return wheels


@pytest.mark.parametrize("command", ["compose-models up", "docker compose up"])
def test_the_app_answers_through_the_gateway_which_knows_it_by_its_key(
    command: str, template_stack, packaged_smollm2: str, gateway_wheels: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = template_stack("gateway", llm=packaged_smollm2)
    assert [path.name for path in (folder / "llm-gateway/wheels").iterdir()] == ["README.md"]
    for wheel in gateway_wheels.glob("*.whl"):
        shutil.copy(wheel, folder / "llm-gateway/wheels")
    port = free_port()
    monkeypatch.setenv("GATEWAY_PORT", str(port))

    if command == "compose-models up":
        run_cli("up", "-f", str(folder / "compose.yaml"), "--", "-d")
    else:  # unmodified Compose, which reads `models:` through the docker-model plugin
        run_cli("install")
        docker_compose(folder, "up", "-d")
    docker_compose(folder, "wait", "app")
    exit_code = docker_compose(folder, "ps", "--all", "--format", "{{.ExitCode}}", "app").stdout.strip()
    logs = docker_compose(folder, "logs", "--no-log-prefix", "app").stdout
    assert exit_code == "0", logs
    assert f"asking {packaged_smollm2} through http://llm-gateway:8080/engines/v1/" in logs
    answer = logs.split("app: answer:", 1)[1].strip()
    assert answer, logs

    gateway = f"http://127.0.0.1:{port}"
    [admin_key] = [line.split()[1] for line in (folder / "api-keys").read_text().splitlines() if line.startswith("admin:")]
    metrics = httpx.get(f"{gateway}/metrics", headers={"Authorization": f"Bearer {admin_key}"}).text
    served = f'compose_models_caller_requests_total{{caller="app",model="{packaged_smollm2}",status="200"}} 1.0'
    assert served in metrics, metrics
    rebound = httpx.get(
        f"{gateway}/metrics", headers={"Authorization": f"Bearer {admin_key}", "Host": f"rebind.attacker.example:{port}"}
    )  # a web page that rebinds its own name to 127.0.0.1: the gateway listens on 0.0.0.0, yet refuses it
    assert rebound.status_code == 403 and "rebind.attacker.example" in rebound.text
    log = docker_compose(folder, "exec", "llm-gateway", "cat", REQUEST_LOG).stdout
    [request] = [json.loads(line) for line in log.splitlines()]
    assert (request["caller"], request["route"], request["status"]) == ("app", "/engines/v1/chat/completions", 200)
    assert request["completion_tokens"] > 0

    refused = httpx.post(
        f"{gateway}/engines/v1/chat/completions", headers={"Authorization": "Bearer sk-not-a-key"},
        json={"model": packaged_smollm2, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8},
    )  # fmt: skip
    assert refused.status_code == 401, refused.text
