"""What the scheduler tests read of an engine process: its port and its command line."""

from pathlib import Path

from tests.conftest import proc_dir


def command_line(pid: int) -> list[str]:
    return (proc_dir() / str(pid) / "cmdline").read_bytes().decode().split("\0")


def engine_port(pid: int) -> int:
    """The loopback port the engine ``pid`` listens on, from the ``--port`` its runner gave it."""
    argv = command_line(pid)
    return int(argv[argv.index("--port") + 1])


def is_gone(pid: int) -> bool:
    stat = Path(proc_dir() / str(pid) / "stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
