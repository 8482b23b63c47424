"""An engine's watchdog: ends the engine's process group when the runner that started it is gone.

Run as ``python -m compose_models.runner.backends.watchdog`` by ``process.py``, once per engine,
before the engine: it leads a process group of its own, which the engine then joins. Its stdin is
the read end of a pipe whose write end only the runner holds, so its read returns end-of-file when
the runner ends, however it ends (SIGKILL included), or when the runner lets it go after the
engine has exited. Either way it sends SIGKILL to its group: the engine and whatever the engine
started, then itself. This works on every POSIX system, macOS included, which has no PDEATHSIG.

The group cannot be another's while the watchdog reads: a process group lives as long as its leader
does, so no reused pid is ever signalled. The runner's SIGTERM to the group (stopping the engine)
is ignored here; the runner's SIGKILL ends the watchdog with the engine.

It writes one line to stdout once it ignores SIGTERM and waits, and nothing else.
"""

import os
import signal
import sys

READY = b"watching\n"


def main() -> None:
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    os.write(sys.stdout.fileno(), READY)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # the runner's end of the readiness pipe sees end-of-file
    os.close(devnull)
    while True:
        try:
            if not os.read(sys.stdin.fileno(), 64):
                break
        except InterruptedError:
            continue
        except OSError:
            break
    os.killpg(os.getpgrp(), signal.SIGKILL)


if __name__ == "__main__":
    main()
