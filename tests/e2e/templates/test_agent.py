"""The agent template end to end: the agent asks SmolLM2 through the Anthropic SDK at the runner's
/anthropic/v1, runs the `stock` tool call the model makes against the inventory service of the same stack
over HTTP, sends the result back and prints the model's final answer."""

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.docker

STOCK = {"widgets": 4173, "gears": 2958, "bolts": 6071}  # inventory/inventory.py's numbers


def _service_logs(folder: Path, service: str) -> str:
    result = subprocess.run(
        ["docker", "compose", "-f", str(folder / "compose.yaml"), "logs", "--no-log-prefix", service],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_agent_calls_the_inventory_tool_and_answers(template_stack, packaged_smollm2: str) -> None:
    folder = template_stack("agent", llm=packaged_smollm2)
    result = run_cli(
        "up", "-f", str(folder / "compose.yaml"), "--", "--abort-on-container-exit", "--exit-code-from", "agent"
    )
    agent = _service_logs(folder, "agent")
    assert f"agent: asking {packaged_smollm2} at http" in agent, result.stdout + result.stderr
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
