"""The runner's own lines: on stderr, which is the terminal in the foreground and the runner's log when detached.

Saying never raises: a detached runner's stderr is a file in its home, and a full disk (or a closed
stream) must not turn a line of log into a failed answer or a stopped background task. Lines that
cannot be written are counted, and the next line that can be says how many were lost."""

import sys
import threading

_lock = threading.Lock()
_dropped = 0


def say(message: str) -> None:
    global _dropped
    with _lock:
        lost = f"compose-models runner: {_dropped} earlier log line(s) could not be written (disk full?)\n"
        lost = lost if _dropped else ""
        try:
            sys.stderr.write(f"{lost}compose-models runner: {message}\n")
            sys.stderr.flush()
        except (OSError, ValueError):  # ValueError: stderr closed
            _dropped += 1  # what stayed in stderr's buffer is written with the next line that can be
        else:
            _dropped = 0

