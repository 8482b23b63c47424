"""The agent template end to end: the agent asks SmolLM2 through the Anthropic SDK at the runner's
/anthropic/v1, runs the `stock` tool call the model makes against the inventory service of the same stack
over HTTP, sends the result back and prints the model's final answer; with `compose-models up` and with an
unmodified `docker compose up` through the docker-model plugin."""

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.e2e.templates.conftest import docker_compose

pytestmark = pytest.mark.docker

STOCK = {"widgets": 4173, "gears": 2958, "bolts": 6071}  # inventory/inventory.py's numbers


def _service_logs(folder: Path, service: str) -> str:
    return docker_compose(folder, "logs", "--no-log-prefix", service).stdout


@pytest.mark.parametrize("command", ["compose-models up", "docker compose up"])
def test_the_agent_calls_the_inventory_tool_and_answers(command: str, template_stack, packaged_smollm2: str) -> None:
    folder = template_stack("agent", llm=packaged_smollm2)
    until_the_agent_exits = ("--abort-on-container-exit", "--exit-code-from", "agent")
    if command == "compose-models up":
        run_cli("up", "-f", str(folder / "compose.yaml"), "--", *until_the_agent_exits)
    else:  # unmodified Compose, which reads `models:` through the docker-model plugin
        run_cli("install")
        docker_compose(folder, "up", *until_the_agent_exits)
    agent = _service_logs(folder, "agent")
    assert f"agent: asking {packaged_smollm2} at http" in agent, agent
    assert "/anthropic: " in agent, agent  # the Anthropic API, on the host of the runner's LLM_URL
    # The inventory service logged the call the model's arguments made (a named tool: the call is certain,
    # the item is the model's choice among the service's items)...
    served = re.findall(r"^inventory: stock\(item=(\w+)\) -> (\d+)$", _service_logs(folder, "inventory"), re.M)
    assert served, _service_logs(folder, "inventory")
    item, count = served[0]
    assert int(count) == STOCK[item]
    # ...and the agent got that number back over HTTP, and the model answered after it.
    assert f"agent: tool inventory.stock(item={item}) -> {count}" in agent, agent
    answer = agent.split("agent: answer:", 1)[1].strip()
    assert answer, agent
    print(f"agent asked for {item}, got {count}; the model answered: {answer}")


def test_the_agent_exits_non_zero_when_the_runner_does_not_answer(template_stack, packaged_smollm2: str) -> None:
    folder = template_stack("agent", llm=packaged_smollm2)
    docker_compose(folder, "up", "-d", "--build", "--wait", "inventory")
    project = os.environ["COMPOSE_PROJECT_NAME"]
    docker_compose(folder, "build", "agent")
    # The agent's image on the stack's network, with the inventory up but nothing listening at LLM_URL.
    result = subprocess.run(
        ["docker", "run", "--rm", "--network", f"{project}_default", "-e", "LLM_URL=http://127.0.0.1:9/engines/v1/",
         "-e", f"LLM_MODEL={packaged_smollm2}", "-e", "INVENTORY_URL=http://inventory:8000", f"{project}-agent"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "agent: no answer from the runner" in result.stderr, result.stderr
    assert "agent: answer:" not in result.stdout
