"""The dashboard renders in headless Chromium (Debian's ``chromium``) with the loaded model and recent requests;
the screenshot is kept in test-artifacts/."""

import shutil
import subprocess
from pathlib import Path

import httpx

from tests.conftest import LOCAL_MODEL_TAG, REPO, require
from tests.integration.gateway.conftest import ADMIN_KEY, KEYS, bearer

ARTIFACTS = REPO / "test-artifacts"


def _chromium(tmp_path: Path, url: str, *action: str) -> str:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    require(browser is not None, "Debian's chromium (apt-get install -y chromium)", linux_only=True)
    result = subprocess.run(
        [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
            f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1100,1500", "--virtual-time-budget=8000",
            *action, url,
        ],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_dashboard_shows_the_loaded_model_and_recent_requests(guarded_runner: str, tmp_path: Path) -> None:
    body = {"model": LOCAL_MODEL_TAG, "max_tokens": 4, "messages": [{"role": "user", "content": "Hello dashboard"}]}
    for name in KEYS:
        answer = httpx.post(f"{guarded_runner}/engines/v1/chat/completions", json=body, headers=bearer(name), timeout=60)
        assert answer.status_code == 200

    page = httpx.get(f"{guarded_runner}/ui")
    assert page.status_code == 200 and "http://" not in page.text.replace("http://www.w3.org/2000/svg", "")

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "gateway-dashboard.png"
    screenshot.unlink(missing_ok=True)
    # An admin's key: the dashboard shows every caller's requests (an inference key's holder sees only theirs).
    dom = _chromium(tmp_path, f"{guarded_runner}/ui#key={ADMIN_KEY}", "--dump-dom", f"--screenshot={screenshot}")
    assert 'data-loaded="yes"' in dom, dom[-2000:]
    models_table = dom.split('id="models"')[1].split("</table>")[0]
    assert LOCAL_MODEL_TAG in models_table and " s</td>" in models_table  # time until it unloads
    recent_table = dom.split('id="recent"')[1].split("</table>")[0]
    assert "alice" in recent_table and "bob" in recent_table
    usage_table = dom.split('id="usage"')[1].split("</table>")[0]  # each key's requests today, kept across restarts
    assert "<td>alice</td>" in usage_table and "<td>bob</td>" in usage_table
    assert "Hello dashboard" in dom.split('id="request"')[1]  # the latest request's body, for inspection
    assert 'data-caller="alice"' in dom and 'data-caller="bob"' in dom  # a line per caller in the chart
    assert screenshot.stat().st_size > 10_000
