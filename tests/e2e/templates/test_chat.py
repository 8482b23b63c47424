"""The chat template end to end: `compose-models up -d` serves the page from its container, and headless
Chromium, driven over the DevTools protocol, types a question, clicks Send and watches the answer stream in
from the runner, chunk after chunk; with the runner gone, the page shows the app's HTTP 502 and its reason."""

import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, run_cli
from tests.e2e.templates.chromium import Chromium
from tests.e2e.templates.conftest import docker_compose

pytestmark = pytest.mark.docker

QUESTION = "Count from 1 to 20, separated by commas."
# What the page shows of its last answer: the app marks each streamed piece with a span.chunk, and the page
# notes on each which network read brought it.
LAST_ANSWER = """(() => {
  const answers = document.querySelectorAll('#conversation .assistant');
  const answer = answers[answers.length - 1];
  if (!answer) return null;
  const chunks = [...answer.querySelectorAll('.chunk')];
  return {state: answer.dataset.state, text: answer.textContent, chunks: chunks.length,
          reads: new Set(chunks.map((chunk) => chunk.dataset.read)).size};
})()"""


def _wait_for_page(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}health", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"the chat page at {url} did not come up in {timeout}s"
        time.sleep(0.5)


def _ask(browser: Chromium, question: str, timeout: float = 240) -> tuple[dict, list[int]]:
    """Type the question, click Send and watch the answer until it is done or failed: its last state and the
    number of chunks the page showed at each look while it streamed."""
    before = browser.evaluate("document.querySelectorAll('#conversation .assistant').length")
    browser.type("#question", question)
    browser.click("#send")
    browser.wait_for(f"document.querySelectorAll('#conversation .assistant').length > {before}", 10)
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    while (answer := browser.evaluate(LAST_ANSWER))["state"] == "streaming":
        seen.append(answer["chunks"])
        assert time.monotonic() < deadline, f"the answer was still streaming after {timeout}s: {answer}"
        time.sleep(0.02)
    return answer, seen


def _web_logs(folder: Path) -> str:
    logs = docker_compose(folder, "logs", "web", check=False, timeout=60)
    return logs.stdout + logs.stderr


def test_the_page_streams_the_answer_in_chromium(
    template_stack, packaged_smollm2: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = template_stack("chat", llm=packaged_smollm2)
    port = free_port()
    monkeypatch.setenv("CHAT_PORT", str(port))
    monkeypatch.setenv("CHAT_MAX_TOKENS", "48")
    run_cli("up", "-f", str(folder / "compose.yaml"), "--", "-d")
    url = f"http://127.0.0.1:{port}/"
    _wait_for_page(url)

    browser = Chromium(tmp_path / "chromium-profile", tmp_path / "chromium.log")
    try:
        browser.open(url, "document.readyState === 'complete' && !!document.getElementById('send')")
        answer, seen = _ask(browser, QUESTION)
        assert answer["state"] == "done", f"{answer}\n{_web_logs(folder)}"
        assert answer["text"].strip(), answer
        assert answer["chunks"] > 1, answer  # the answer came in pieces ...
        assert answer["reads"] > 1, answer  # ... over more than one network read: streamed, not one body
        assert any(0 < count < answer["chunks"] for count in seen), (seen, answer)  # and grew while we watched
        assert QUESTION in browser.evaluate("document.getElementById('conversation').textContent")
        assert f"asking {packaged_smollm2} at http" in _web_logs(folder)  # LLM_MODEL and LLM_URL from models:

        run_cli("stop")  # the runner is gone: the app must say so, not answer with nothing
        failed, _ = _ask(browser, "Are you there?", timeout=60)
        assert failed["state"] == "error", failed
        assert failed["text"].startswith("HTTP 502: the model runner did not answer: "), failed
        assert "no answer from" in _web_logs(folder)
    finally:
        browser.close()


def test_unmodified_docker_compose_up_serves_the_stream(template_stack, packaged_smollm2: str, monkeypatch) -> None:
    """The same stack with an unmodified `docker compose up -d` once the plugin is installed; the app's
    route, read as the page reads it: server-sent `chunk` events, then `done`."""
    folder = template_stack("chat", llm=packaged_smollm2)
    port = free_port()
    monkeypatch.setenv("CHAT_PORT", str(port))
    monkeypatch.setenv("CHAT_MAX_TOKENS", "32")
    run_cli("install")
    docker_compose(folder, "up", "-d")
    url = f"http://127.0.0.1:{port}/"
    _wait_for_page(url)

    refused = httpx.post(f"{url}chat", content=b"not json", timeout=10)
    assert refused.status_code == 400 and "messages" in refused.json()["error"], refused.text

    events: list[str] = []
    conversation = {"messages": [{"role": "user", "content": QUESTION}]}
    with httpx.stream("POST", f"{url}chat", json=conversation, timeout=240) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line.removeprefix("event: ") for line in response.iter_lines() if line.startswith("event: ")]
    assert events[-1] == "done", events
    assert events.count("chunk") == len(events) - 1 > 1, events
