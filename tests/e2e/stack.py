"""Helpers for end-to-end stacks: reading what the hello containers printed."""

import json
import re

ASKED = re.compile(r"asking (\S+) at (\S+)")


def asked_model_and_url(output: str) -> tuple[str, str]:
    match = ASKED.search(output)
    assert match, f"the container did not say what it asked:\n{output}"
    return match.group(1), match.group(2)


def assistant_answer(output: str) -> str:
    """The assistant message of the chat completion a container printed (non-empty)."""
    for line in output.splitlines():
        _, _, payload = line.partition("| ")
        if payload.startswith("{") and '"choices"' in payload:
            message = json.loads(payload)["choices"][0]["message"]
            assert message["role"] == "assistant"
            assert message["content"].strip(), payload
            return message["content"]
    raise AssertionError(f"no chat completion in the container output:\n{output}")
