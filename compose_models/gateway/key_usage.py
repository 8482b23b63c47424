"""Usage per key and UTC day (requests, prompt and completion tokens), kept in SQLite beside the request
log so it survives restarts and budgets hold across them; days older than ``KEPT_DAYS`` are dropped.

Every call is synchronous and short (an indexed upsert, write-ahead log without a sync per commit): the
gateway records a request once its answer is done, as it writes the request log."""

import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

FILE_NAME = "key-usage.sqlite"
KEPT_DAYS = 400
MAX_NAMES_PER_DAY = 1000  # names come from the keys file and issued service keys; bounded all the same
OTHER = "(other)"


@dataclass(frozen=True)
class DayUsage:
    day: str  # YYYY-MM-DD, UTC
    key: str
    requests: int
    prompt_tokens: int
    completion_tokens: int

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def today() -> date:
    return datetime.now(UTC).date()


class KeyUsage:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS usage (day TEXT NOT NULL, key TEXT NOT NULL, requests INTEGER NOT NULL, "
            "prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, PRIMARY KEY (day, key))"
        )
        self._pruned: date | None = None
        self._recorded: set[tuple[str, str]] = set()  # (day, name) rows that exist: no count needed for them
        self._prune(today())

    def record(self, key: str, prompt_tokens: int, completion_tokens: int, day: date | None = None) -> None:
        day = day or today()
        self._prune(day)
        name = key if self._known_or_room(day.isoformat(), key) else OTHER
        try:
            self._db.execute(
                "INSERT INTO usage VALUES (?, ?, 1, ?, ?) ON CONFLICT (day, key) DO UPDATE SET "
                "requests = requests + 1, prompt_tokens = prompt_tokens + excluded.prompt_tokens, "
                "completion_tokens = completion_tokens + excluded.completion_tokens",
                (day.isoformat(), name, prompt_tokens, completion_tokens),
            )
        except sqlite3.OperationalError:  # a full disk: this request's usage is lost, the answer was not
            pass

    def tokens(self, key: str, since: date, until: date) -> int:
        """Tokens ``key`` used from day ``since`` to day ``until``, both included."""
        row = self._db.execute(
            "SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0) FROM usage WHERE key = ? AND day BETWEEN ? AND ?",
            (key, since.isoformat(), until.isoformat()),
        ).fetchone()
        return int(row[0])

    def days(self, since: date, key: str | None = None) -> list[DayUsage]:
        """Every key's usage (or ``key``'s) per day since ``since``, newest first."""
        query = "SELECT day, key, requests, prompt_tokens, completion_tokens FROM usage WHERE day >= ?"
        parameters: tuple[str, ...] = (since.isoformat(),)
        if key is not None:
            query, parameters = query + " AND key = ?", (*parameters, key)
        rows = self._db.execute(query + " ORDER BY day DESC, key", parameters).fetchall()
        return [DayUsage(*row) for row in rows]

    def close(self) -> None:
        self._db.close()

    def _known_or_room(self, day: str, key: str) -> bool:
        if (day, key) in self._recorded:
            return True
        known = self._db.execute("SELECT 1 FROM usage WHERE day = ? AND key = ?", (day, key)).fetchone()
        count = self._db.execute("SELECT COUNT(*) FROM usage WHERE day = ?", (day,)).fetchone()[0]
        if known or count < MAX_NAMES_PER_DAY:
            if len(self._recorded) >= MAX_NAMES_PER_DAY:
                self._recorded.clear()
            self._recorded.add((day, key))
            return True
        return False

    def _prune(self, day: date) -> None:
        if self._pruned == day:
            return
        self._pruned = day
        oldest = (day - timedelta(days=KEPT_DAYS - 1)).isoformat()
        try:
            self._db.execute("DELETE FROM usage WHERE day < ?", (oldest,))
        except sqlite3.OperationalError:
            pass
