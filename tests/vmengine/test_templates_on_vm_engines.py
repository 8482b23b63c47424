"""Every stack template under the Rancher-like and Podman-like stand-ins (see vm_engine.py): the services get
the route a container was seen to take to the runner, and none maps host.docker.internal to host-gateway,
which there would override the engine's own name (Rancher Desktop: the VM's own bridge, which does not reach
the host; Podman: the container is refused at creation).

Checked for each way a template runs: `compose-models up` (the project it hands `docker compose`: the
template plus its override), an unmodified `docker compose up` through the docker-model plugin (the
template as it is, and the endpoint the plugin's `status --json` gives Compose) and the provider (the URL
its `compose up` hands the dependents). Each service handed the URL then fetches the runner's model list
from a busybox container with that service's own extra_hosts, on the stand-in engine. No image is built:
what is checked is the project Compose would run, not the applications.
"""

import json
import subprocess
import uuid
from pathlib import Path

import docker
import pytest
from ruamel.yaml import YAML

from compose_models.compose import ProjectOptions
from compose_models.container_run import run_to_end
from compose_models.orchestrator.deploy import deploy
from compose_models.orchestrator.docker_compose import compose_command
from tests.conftest import REPO, free_port, run_cli
from tests.vmengine.vm_engine import IMAGE, PODMAN, RANCHER, VmEngine

pytestmark = [pytest.mark.vmengine, pytest.mark.docker, pytest.mark.model]

TEMPLATES = sorted(path.parent.name for path in (REPO / "compose_models/templates").glob("*/compose.yaml"))


def _model_slots(template: str) -> list[str]:
    """The template's model slots: its top-level models, or its provider services."""
    document = YAML(typ="safe").load((REPO / "compose_models/templates" / template / "compose.yaml").read_text())
    providers = [name for name, service in document["services"].items() if "provider" in service]
    return list(document.get("models") or {}) or providers


def _config(*arguments: str) -> dict:
    """`docker compose ARGUMENTS config --format json`: the project as Compose would run it."""
    result = subprocess.run([*compose_command(), *arguments, "config", "--format", "json"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _extra_hosts(service: dict) -> dict[str, str]:
    """A service's extra_hosts as Compose renders them (a list of ``NAME=ADDRESS``, or a mapping)."""
    extra_hosts = service.get("extra_hosts") or {}
    if isinstance(extra_hosts, dict):
        return {str(name): str(address) for name, address in extra_hosts.items()}
    pairs = [entry.split("=", 1) if "=" in entry else entry.split(":", 1) for entry in extra_hosts]
    return {name: address for name, address in pairs}


def _host_gateway_entries(config: dict) -> dict[str, dict[str, str]]:
    """Per service, the names its extra_hosts map to host-gateway."""
    found = {}
    for name, service in config["services"].items():
        mapped = {host: address for host, address in _extra_hosts(service).items() if address == "host-gateway"}
        if mapped:
            found[name] = mapped
    return found


def _fetch_models(docker_host: str, url: str, service: dict) -> dict:
    """What a busybox container with ``service``'s extra_hosts, on a network of its own, gets at ``url``models."""
    client = docker.DockerClient(base_url=docker_host, timeout=60)
    network = client.networks.create(f"tpl-check-{uuid.uuid4().hex[:8]}", driver="bridge")
    try:
        finished = run_to_end(client, IMAGE, ["wget", "-qO-", f"{url}models"], timeout=60, network=network.name,
                              extra_hosts=_extra_hosts(service) or None)
        assert finished.status == 0, f"wget {url}models: exit status {finished.status}: {finished.stderr.decode()}"
        return json.loads(finished.stdout)
    finally:
        network.remove()
        client.close()


@pytest.mark.parametrize("scenario", [RANCHER, PODMAN], ids=lambda scenario: scenario.name)
def test_each_template_hands_out_the_probed_route_and_no_host_gateway(
    scenario, vm_engine: VmEngine, packaged_smollm2: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    docker_host = vm_engine.use(scenario, forward_port=port)
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    monkeypatch.setenv("COMPOSE_MODELS_PORT", str(port))
    monkeypatch.setenv("PYTHON_IMAGE", IMAGE)  # the templates' build argument; nothing is built
    route = f"http://host.docker.internal:{port}/engines/v1/"  # the engine's own name (dnsmasq in the stand-in)
    try:
        for template in TEMPLATES:
            folder = tmp_path / template
            run_cli("init", template, str(folder), *(f"--model={slot}={packaged_smollm2}" for slot in _model_slots(template)))
            project = f"tpl-{template}-{uuid.uuid4().hex[:6]}"
            # As it is: what an unmodified `docker compose up` runs, through the plugin or the provider.
            unmodified = _config("-f", str(folder / "compose.yaml"), "-p", project)
            assert _host_gateway_entries(unmodified) == {}, f"{template}: {_host_gateway_entries(unmodified)}"
            if "provider" in json.dumps(unmodified):
                _check_provider(template, project, packaged_smollm2, route, unmodified, docker_host)
            else:
                _check_up(template, folder, project, route, docker_host)
        # The plugin hands Compose the same route (`docker model status --json` is this command).
        status = json.loads(run_cli("status", "--json").stdout)
        assert (status["endpoint"], status["reach"]["hostGateway"]) == (route, False), status
    finally:
        run_cli("stop", check=False)


def _check_up(template: str, folder: Path, project: str, route: str, docker_host: str) -> None:
    """The project `compose-models up` hands `docker compose`: its files and override, as Compose reads them."""
    deployment = deploy(ProjectOptions(files=[str(folder / "compose.yaml")], project_name=project, cwd=folder))
    assert (deployment.endpoint, deployment.host_gateway) == (route, False), template
    config = _config(*deployment.compose_arguments())
    assert _host_gateway_entries(config) == {}, f"{template}: {_host_gateway_entries(config)}"
    bound = {name: service for name, service in config["services"].items() if route in (service.get("environment") or {}).values()}
    assert bound, f"{template}: no service was handed {route}: {json.dumps(config['services'])}"
    for name, service in bound.items():
        assert _fetch_models(docker_host, route, service)["object"] == "list", f"{template}/{name}"


def _check_provider(template: str, project: str, model: str, route: str, config: dict, docker_host: str) -> None:
    """The URL the provider hands the services that depend on it, as Compose runs it."""
    for name, service in config["services"].items():
        if "provider" not in service:
            continue
        messages = [json.loads(line) for line in run_cli(
            "compose", f"--project-name={project}", "up", f"--model={model}", name
        ).stdout.splitlines()]
        assert {"type": "setenv", "message": f"URL={route}"} in messages, f"{template}: {messages}"
        assert not any("host-gateway" in message["message"] for message in messages), f"{template}: {messages}"
        dependents = {other: spec for other, spec in config["services"].items() if name in (spec.get("depends_on") or {})}
        assert dependents, f"{template}: nothing depends on {name}"
        for other, spec in dependents.items():
            assert _fetch_models(docker_host, route, spec)["object"] == "list", f"{template}/{other}"
        run_cli("compose", f"--project-name={project}", "down", name)
