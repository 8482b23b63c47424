"""The request log: one JSON line per inference request, rotated by size (``requests.jsonl``,
``requests.jsonl.1``, ...). ``compose-models logs --requests`` prints it."""

import json
import logging
import logging.handlers
from dataclasses import asdict, dataclass
from pathlib import Path

FILE_NAME = "requests.jsonl"
MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 5


@dataclass(frozen=True)
class RequestEntry:
    time: str  # ISO 8601, UTC
    request_id: str
    caller: str
    caller_kind: str
    project: str | None
    service: str | None
    container: str | None
    address: str
    route: str
    model: str | None
    status: int
    prompt_tokens: int | None  # None: an OpenAI stream whose client did not ask for usage
    completion_tokens: int
    time_to_first_token: float | None  # seconds
    duration: float  # seconds
    cut_off: bool = False  # the client closed the stream before its end (status 499); tokens are those generated


class RequestLog:
    def __init__(self, path: Path, max_bytes: int = MAX_BYTES, backups: int = BACKUPS) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # A logger of its own, not propagating, so nothing else writes into the file.
        self._logger = logging.Logger(f"compose_models.requests.{path}")
        handler = _QuietRotatingHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(message)s"))
        self._logger.addHandler(handler)

    def write(self, entry: RequestEntry) -> None:
        self._logger.info(json.dumps(asdict(entry), separators=(",", ":")))

    def close(self) -> None:
        for handler in self._logger.handlers:
            try:
                handler.close()
            except OSError:  # what a full disk kept in its buffer is lost
                pass


class _QuietRotatingHandler(logging.handlers.RotatingFileHandler):
    """A line that cannot be written (a full disk) is dropped and counted: logging's default prints a
    traceback per line to stderr, which on a detached runner is a file on the same full disk."""

    dropped = 0

    def handleError(self, record: logging.LogRecord) -> None:
        self.dropped += 1
