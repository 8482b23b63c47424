"""The request log rotates by size and keeps complete lines."""

import json
from pathlib import Path

from compose_models.gateway.request_log import RequestEntry, RequestLog


def test_the_log_rotates_by_size_and_every_line_is_a_whole_entry(tmp_path: Path) -> None:
    log = RequestLog(tmp_path / "requests.jsonl", max_bytes=1000, backups=2)
    for number in range(20):
        log.write(RequestEntry(
            "2026-01-01T00:00:00+00:00", f"id-{number}", "alice", "key", None, None, None, "127.0.0.1",
            "/v1/chat/completions", "m", 200, 10, 5, 0.1, 0.2,
        ))
    log.close()
    files = sorted(tmp_path.iterdir())
    assert [path.name for path in files] == ["requests.jsonl", "requests.jsonl.1", "requests.jsonl.2"]
    for path in files:
        assert path.stat().st_size <= 1000
        assert all(json.loads(line)["caller"] == "alice" for line in path.read_text().splitlines())
    assert json.loads((tmp_path / "requests.jsonl").read_text().splitlines()[-1])["request_id"] == "id-19"
