"""Temporary files that killed store writers left (an upload, an ingest, a model being created) are swept
when the runner starts; those of a writer still at work, and recent ones of unknown writers, are kept."""

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import run_cli

NO_PROCESS = 4194305  # above the largest process id Linux gives (pid_max's ceiling)


def test_the_runner_sweeps_what_dead_writers_left_at_start(isolated_home: Path) -> None:
    store = isolated_home / "models"
    blobs = store / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # a CLI `package` at work
    try:
        left = [blobs / f".upload-{NO_PROCESS}-k1ll3d", blobs / f".ingest-{NO_PROCESS}-k1ll3d",
                store / f".create-{NO_PROCESS}-k1ll3d"]
        unowned_old = blobs / ".upload-abc123"
        kept = [blobs / f".ingest-{writer.pid}-busy", blobs / ".upload-fresh1"]
        for path in [*left[:2], unowned_old, *kept]:
            path.write_bytes(b"part of a blob")
        left[2].mkdir()
        (left[2] / "LICENSE").write_text("scratch")
        hour_and_more_ago = time.time() - 3700
        os.utime(unowned_old, (hour_and_more_ago, hour_and_more_ago))
        run_cli("serve", "--detach")
        try:
            assert [path for path in [*left, unowned_old] if path.exists()] == []
            assert [path for path in kept if path.exists()] == kept
            log = (isolated_home / "runner" / "logs" / "runner.log").read_text()
            assert f"removed {left[0]}, left by a store writer that is gone" in log
        finally:
            run_cli("stop", check=False)
    finally:
        writer.kill()
        writer.wait()
