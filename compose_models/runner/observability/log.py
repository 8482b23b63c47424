"""The runner's own lines: on stderr, which is the terminal in the foreground and the runner's log when detached."""

import sys


def say(message: str) -> None:
    print(f"compose-models runner: {message}", file=sys.stderr, flush=True)
