"""A recorded schemathesis run, longer than CI's: a runner with the real model (as the API tests start
it), then every documented operation with ``--examples`` generated requests and the checks the
document supports (responses name their content types, errors their schema). Exits non-zero on any
failure; the figures for docs/fuzzing.md are in schemathesis' summary, printed at the end.

    .venv/bin/python fuzz/schemathesis_run.py --examples 100
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from compose_models.default_model import default_gguf_path  # noqa: E402
from compose_models.errors import UserError  # noqa: E402
from tests.conftest import cli_headers  # noqa: E402
from tests.integration.api.conftest import serving_runner  # noqa: E402
from tests.integration.api.test_schemathesis import CHECKS  # noqa: E402  (CI's checks, on more requests)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100, help="generated requests per operation and phase")
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--report-dir", type=Path, default=None, help="keep schemathesis' junit report here")
    arguments = parser.parse_args()
    try:
        gguf = default_gguf_path()
    except UserError as error:
        print(error, file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="schemathesis-run-") as work:
        home = Path(work) / "home"
        home.mkdir()
        report_dir = arguments.report_dir or Path(work)
        env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.integration.api.schemathesis_hooks", "PYTHONPATH": str(REPO)}
        with serving_runner(home, gguf) as url:
            result = subprocess.run(
                [str(Path(sys.executable).parent / "st"), "run", f"{url}/openapi.json", "--checks", CHECKS,
                 "--phases", "examples,coverage,fuzzing", "--max-examples", str(arguments.examples),
                 "--seed", str(arguments.seed), "--workers", "1", "--request-timeout", "60", "--no-shrink",
                 "--suppress-health-check", "all",
                 "--exclude-method", "DELETE",  # deleting the model would leave the rest nothing to run
                 # as this machine's CLI, so management routes are fuzzed, not refused
                 "--header", f"Authorization: {cli_headers(home)['Authorization']}",
                 "--report", "junit", "--report-dir", str(report_dir)],
                env=env, cwd=work,
            )  # fmt: skip
        if result.returncode != 0:
            print(f"runner log:\n{(home / 'runner.log').read_text()[-8000:]}", file=sys.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
