"""Verbs for a person at a terminal: run (chat with a model) and logs."""

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import httpx
import typer

from compose_models.cli import app
from compose_models.errors import UserError
from compose_models.gateway.request_log import FILE_NAME as REQUEST_LOG_NAME
from compose_models.home import runner_dir
from compose_models.runner.control import daemon
from compose_models.runner.control.local_http import local_verify
from compose_models.runner.control.local_key import local_auth_headers
from compose_models.runner.control.state import default_port
from compose_models.store import ModelStore
from compose_models.store.pull import pull_model
from compose_models.store.transfer_progress import transfer_display


class _ContextFull(UserError):
    """The conversation no longer fits the model's context."""


def _stream_answer(base_url: str, model: str, messages: list[dict]) -> str:
    """Print the assistant's answer as it streams; return it whole."""
    body = {"model": model, "messages": messages, "stream": True}
    answer = []
    with httpx.stream("POST", f"{base_url}/engines/v1/chat/completions", json=body, headers=local_auth_headers(), timeout=None,
                      verify=local_verify(base_url)) as response:
        if response.status_code != 200:
            response.read()
            error = UserError if response.status_code != 400 or "context" not in response.text else _ContextFull
            raise error(f"{model}: {response.text.strip()}")
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            event = json.loads(line.removeprefix("data: "))
            if "error" in event:
                raise UserError(f"{model}: {event['error'].get('message', event['error'])}")
            for choice in event.get("choices", []):
                piece = (choice.get("delta") or {}).get("content") or ""
                answer.append(piece)
                sys.stdout.write(piece)
                sys.stdout.flush()
    sys.stdout.write("\n")
    return "".join(answer)


@app.command()
def run(
    model: Annotated[str, typer.Argument(help="Model reference (pulled if missing)")],
    prompt: Annotated[Optional[str], typer.Argument(help="One prompt; without it, chat until EOF or /bye")] = None,
) -> None:
    """Chat with a model on the runner, like `docker model run`."""
    store = ModelStore.default()
    if store.find(model) is None:
        with transfer_display() as transfers:
            pull_model(store, model, transfers=transfers)
    state = daemon.ensure_running(default_port())
    if prompt is not None:
        _stream_answer(state.host_url, model, [{"role": "user", "content": prompt}])
        return
    messages: list[dict] = []
    interactive = sys.stdin.isatty()
    while True:
        if interactive:
            sys.stdout.write("> ")
            sys.stdout.flush()
        line = sys.stdin.readline()
        if not line or line.strip() == "/bye":
            return
        if not line.strip():
            continue
        messages.append({"role": "user", "content": line.strip()})
        messages.append({"role": "assistant", "content": _answer_within_context(state.host_url, model, messages)})


def _answer_within_context(base_url: str, model: str, messages: list[dict]) -> str:
    """Answer the last message; as `ollama run` does, forget the oldest exchanges when the chat outgrows the context."""
    while True:
        try:
            return _stream_answer(base_url, model, messages)
        except _ContextFull:
            if len(messages) < 3:
                raise
            del messages[:2]


def _log_files(with_engines: bool, requests: bool = False) -> list[Path]:
    logs = runner_dir() / "logs"
    if requests:
        return [path for path in [logs / REQUEST_LOG_NAME] if path.is_file()]
    files = [logs / "runner.log"]
    if with_engines:
        files += sorted(logs.glob("engine-*.log"))
    return [path for path in files if path.is_file()]


@app.command()
def logs(
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines")] = False,
    no_engines: Annotated[bool, typer.Option("--no-engines", help="Only the runner's own log")] = False,
    requests: Annotated[bool, typer.Option("--requests", help="The request log instead: one JSON line per request")] = False,
) -> None:
    """Print the runner's log and its engines' logs."""
    files = _log_files(not no_engines, requests)
    if not files:
        raise UserError(f"no logs yet in {runner_dir() / 'logs'}: start the runner with `compose-models serve --detach`")
    positions: dict[Path, int] = {}
    while True:
        for path in _log_files(not no_engines, requests):
            if path.stat().st_size < positions.get(path, 0):
                positions[path] = 0  # rotated
            with path.open("rb") as log:
                log.seek(positions.get(path, 0))
                data = log.read()
                positions[path] = log.tell()
            if data:
                sys.stdout.write(data.decode(errors="replace"))
                sys.stdout.flush()
        if not follow:
            return
        time.sleep(0.5)
