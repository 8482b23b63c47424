"""`run`'s chat forgets its oldest exchanges when the conversation outgrows the model's context, as `ollama run`
does, instead of ending the chat. The engine is a stand-in (a model whose context holds three messages) because a
real model's answers are too unpredictable to fill a context on cue."""

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from compose_models.cli.session_verbs import _answer_within_context
from compose_models.errors import UserError
from tests.integration.store.token_server import served

_CONTEXT_MESSAGES = 3


class _SmallContextEngine(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        messages = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["messages"]
        if len(messages) > _CONTEXT_MESSAGES or len(messages[-1]["content"]) > 100:
            body = json.dumps({"error": {"message": "request exceeds the available context size", "code": 400}})
            self._send(400, "application/json", body)
            return
        chunk = {"choices": [{"delta": {"content": f"answer to {messages[-1]['content']}"}}]}
        self._send(200, "text/event-stream", f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n")

    def _send(self, status: int, content_type: str, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def engine_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SmallContextEngine)
    with served(server):
        yield f"http://127.0.0.1:{server.server_port}"


def test_a_chat_longer_than_the_context_goes_on_without_its_oldest_exchanges(engine_url: str, isolated_home) -> None:
    messages: list[dict] = []
    for turn in ("one", "two", "three"):
        messages.append({"role": "user", "content": turn})
        messages.append({"role": "assistant", "content": _answer_within_context(engine_url, "m", messages)})
    assert [message["content"] for message in messages] == ["two", "answer to two", "three", "answer to three"]


def test_one_message_too_long_for_the_context_is_still_an_error(engine_url: str, isolated_home) -> None:
    with pytest.raises(UserError, match="context size"):
        _answer_within_context(engine_url, "m", [{"role": "user", "content": "x" * 200}])
