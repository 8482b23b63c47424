"""Headless Chromium driven over its DevTools protocol on a pipe (``--remote-debugging-pipe``): the browser
reads JSON commands, each ending in a NUL byte, on its fd 3 and writes replies and events the same way on its
fd 4. No websocket library is needed (none is installed here)."""

import fcntl
import itertools
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.conftest import require

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",  # the tests run as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1024,768",
    "--remote-debugging-pipe",
]


class DevToolsError(AssertionError):
    pass


def _above_four(fd: int) -> int:
    """The same pipe end on an fd the shell's ``3<&N 4>&M`` cannot overwrite before it is read."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class Chromium:
    """One browser with one page; ``evaluate`` runs JavaScript in it, ``click`` and ``type`` act as a user."""

    def __init__(self, profile: Path, log: Path) -> None:
        require(Path(CHROMIUM).exists(), f"Chromium at {CHROMIUM}, for the chat template's page")
        to_browser, self._commands = os.pipe()
        self._replies, from_browser = os.pipe()
        to_browser, from_browser = _above_four(to_browser), _above_four(from_browser)
        # Bash (dash takes no fd above 9) moves our pipe ends to the fds Chromium expects, then becomes Chromium.
        wire = f'exec "$@" 3<&{to_browser} 4>&{from_browser} {to_browser}<&- {from_browser}>&-'
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                ["bash", "-c", wire, "bash", CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                pass_fds=(to_browser, from_browser), stdin=subprocess.DEVNULL, stdout=output, stderr=output,
                start_new_session=True,
            )
        os.close(to_browser)
        os.close(from_browser)
        self._log = log
        self._ids = itertools.count(1)
        self._buffer = b""
        self.session = ""
        try:
            target = self.send("Target.createTarget", url="about:blank")["targetId"]
            self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        except BaseException:
            self.close()
            raise

    def send(self, method: str, timeout: float = 30, **params: Any) -> dict[str, Any]:
        """Send one command (to the page once attached) and return its result; events in between are dropped."""
        message_id = next(self._ids)
        message = {"id": message_id, "method": method, "params": params}
        if self.session and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self.session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._next_message(deadline, method)
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise DevToolsError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def _next_message(self, deadline: float, method: str) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._replies], [], [], left)[0]:
                raise DevToolsError(f"Chromium did not answer {method} in time; its log:\n{self._log.read_text()}")
            data = os.read(self._replies, 1 << 16)
            if not data:
                raise DevToolsError(f"Chromium closed its pipe during {method}; its log:\n{self._log.read_text()}")
            self._buffer += data
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (awaited when it is a promise)."""
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise DevToolsError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str, ready: str, timeout: float = 30) -> None:
        """Load ``url`` and wait until the expression ``ready`` is true in it."""
        self.send("Page.navigate", url=url)
        self.wait_for(ready, timeout)

    def wait_for(self, expression: str, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while not (value := self.evaluate(expression)):
            if time.monotonic() > deadline:
                raise DevToolsError(f"still false after {timeout}s: {expression}")
            time.sleep(0.1)
        return value

    def type(self, selector: str, text: str) -> None:
        """Focus the element and type ``text`` into it, as a keyboard would."""
        self.evaluate(f"document.querySelector({json.dumps(selector)}).focus()")
        self.send("Input.insertText", text=text)

    def click(self, selector: str) -> None:
        """A left mouse click in the middle of the element."""
        box = self.evaluate(
            f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
            " return {x: r.x + r.width / 2, y: r.y + r.height / 2}; })()"
        )
        for event in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=event, button="left", clickCount=1, **box)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except (DevToolsError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, 9)  # its own session: the browser and its helper processes
            self.process.wait()
        os.close(self._commands)
        os.close(self._replies)
