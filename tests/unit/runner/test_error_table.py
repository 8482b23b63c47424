"""The runner's one error table: each kind of error (the runner's and the store's) answered with its status,
OpenAI ``code`` and ``param``, and message, in the envelope of the API that was called."""

import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from compose_models.cli.exit_codes import exit_code
from compose_models.errors import UserError
from compose_models.runner.app import create_app
from compose_models.runner.backends.catalog import BackendUnavailable
from compose_models.runner.errors import (
    ANSWERS,
    Conflict,
    EngineCrashLoop,
    EngineError,
    EngineUnavailable,
    InvalidConfiguration,
    ModelNotFound,
    RunnerError,
    UpstreamUnavailable,
)
from compose_models.runner.http.dialects import Dialect
from compose_models.runner.http.errors import api_error, error_response
from compose_models.runner.scheduling.placement import InsufficientMemory
from compose_models.runner.upstreams.remote_models import NoHealthyReplica
from compose_models.store import errors as store

LOAD_FAILED = "unable to load runner: "
# error, status, OpenAI code, OpenAI param, message
CASES = [
    (ModelNotFound("ai/absent"), 404, "model_not_found", "model", "model 'ai/absent' not found"),
    (store.ModelNotFound("ai/absent"), 404, "model_not_found", "model", "model 'ai/absent' not found"),
    (Conflict("in use"), 409, None, None, "in use"),
    (store.ModelConflict("ai/a is in use"), 409, None, None, "ai/a is in use"),
    (InvalidConfiguration("context-size: 9 is out of range"), 400, None, None, "context-size: 9 is out of range"),
    (UserError("keep_alive: bad"), 400, None, None, "keep_alive: bad"),
    (store.StoreError("cannot"), 400, None, None, "cannot"),
    (store.InvalidReference("'' is empty"), 400, None, None, "'' is empty"),
    (store.InvalidArtifact("not a GGUF"), 400, None, None, "not a GGUF"),
    (store.DigestMismatch("bytes differ"), 400, None, None, "bytes differ"),
    (store.RegistryError("denied"), 400, None, None, "denied"),
    (store.RegistryNotFound("no such tag"), 404, None, None, "no such tag"),
    (store.CorruptIndex("models.json: not JSON"), 503, "corrupt_index", None,
     "the model store cannot be read: models.json: not JSON"),
    (store.StoreFull("1 MiB free"), 507, "insufficient_storage", None, "1 MiB free"),
    (RunnerError("odd"), 500, None, None, "odd"),
    (EngineError("exited with 1"), 500, None, None, LOAD_FAILED + "exited with 1"),
    (EngineCrashLoop("crashed 3 times"), 503, "engine_crashed", None, "crashed 3 times"),
    (EngineUnavailable("no engine"), 500, None, None, LOAD_FAILED + "no engine"),
    (InsufficientMemory("needs 9 GiB"), 500, None, None, LOAD_FAILED + "needs 9 GiB"),
    (BackendUnavailable("no MLX here"), 500, None, None, LOAD_FAILED + "no MLX here"),
    (UpstreamUnavailable("down"), 503, "upstream_unavailable", None, "down"),
    (NoHealthyReplica("ai/far", []), 503, "upstream_unavailable", None,
     "model 'ai/far' is unavailable: its upstreams () failed their health checks and are ejected; they are checked again every 0s"),
]  # fmt: skip
ANTHROPIC_TYPES = {400: "invalid_request_error", 404: "not_found_error", 409: "invalid_request_error",
                   500: "api_error", 503: "api_error", 507: "api_error"}  # fmt: skip


def _body(dialect: Dialect, error: Exception) -> tuple[int, object]:
    response = error_response(dialect, api_error(error))
    text = bytes(response.body).decode()
    return response.status_code, text if dialect is Dialect.DMR else json.loads(text)


def test_every_kind_in_the_table_is_checked_here() -> None:
    assert set(ANSWERS) <= {type(case[0]) for case in CASES} | {UserError}


@pytest.mark.parametrize(("error", "status", "code", "param", "message"), CASES, ids=lambda v: type(v).__name__)
def test_each_kind_in_each_envelope(error: Exception, status: int, code: str | None, param: str | None, message: str) -> None:
    openai_type = "server_error" if status >= 500 else "invalid_request_error"
    assert _body(Dialect.OPENAI, error) == (
        status, {"error": {"message": message, "type": openai_type, "param": param, "code": code}}
    )
    anthropic_status, anthropic = _body(Dialect.ANTHROPIC, error)
    assert anthropic_status == status
    assert anthropic["type"] == "error" and anthropic["request_id"].startswith("req_")
    assert anthropic["error"] == {"type": ANTHROPIC_TYPES[status], "message": message}
    assert _body(Dialect.OLLAMA, error) == (status, {"error": message})
    assert _body(Dialect.DMR, error) == (status, message + "\n")


def test_errors_carry_no_exit_code_and_the_cli_exits_1_for_each() -> None:
    for error, *_ in CASES:
        assert not hasattr(error, "exit_code")
        if isinstance(error, UserError):
            assert exit_code(error) == 1


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    with TestClient(create_app(tmp_path / "models", tmp_path / "logs")) as client:
        yield client


def test_handlers_let_errors_propagate_to_the_called_apis_envelope(client: TestClient) -> None:
    """The store's and the runner's errors, raised in handlers, answered by the app from the table."""
    openai = client.get("/engines/v1/models/ai/absent")
    assert openai.status_code == 404
    assert openai.json()["error"] == {"message": "model 'ai/absent' not found", "type": "invalid_request_error",
                                      "param": "model", "code": "model_not_found"}  # fmt: skip
    copied = client.post("/api/copy", json={"source": "ai/absent", "destination": "ai/other"})  # the store's
    assert (copied.status_code, copied.json()) == (404, {"error": "model 'ai/absent' not found"})
    tagged = client.post("/models/ai/absent/tag", params={"repo": "ai/other", "tag": "v1"})
    assert (tagged.status_code, tagged.text) == (404, "model 'ai/absent' not found\n")
    unloaded = client.post("/engines/unload", json={"models": ["ai/absent"]})  # the scheduler's
    assert (unloaded.status_code, unloaded.text) == (404, "model 'ai/absent' not found\n")
    insecure = client.post("/api/pull", json={"model": "Not A Reference!", "insecure": True})  # an invalid reference
    assert insecure.status_code == 400 and "Not A Reference!" in insecure.json()["error"], insecure.text
