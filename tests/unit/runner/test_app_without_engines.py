"""The runner app in-process, on an empty store: everything that never reaches an engine."""

from pathlib import Path

import pytest
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from compose_models.runner.app import create_app
from compose_models.runner.http.openapi import openapi_document
from compose_models.runner.routes import ENDPOINTS


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    with TestClient(create_app(tmp_path / "models", tmp_path / "logs")) as client:
        yield client


@pytest.mark.parametrize(
    ("path", "body", "read_error"),
    [
        ("/engines/v1/chat/completions", {"messages": [{"role": "user", "content": "Hi"}]}, lambda b: b["error"]["message"]),
        ("/anthropic/v1/messages", {"max_tokens": 4, "messages": [{"role": "user", "content": "Hi"}]},
         lambda b: b["error"]["message"]),
        ("/api/chat", {"messages": [{"role": "user", "content": "Hi"}]}, lambda b: b["error"]),
        ("/api/embed", {"input": "Hi"}, lambda b: b["error"]),
    ],
)
def test_an_unknown_model_is_a_404_naming_it_in_each_apis_shape(client: TestClient, path: str, body: dict, read_error) -> None:
    response = client.post(path, json={"model": "ai/absent", **body})
    assert response.status_code == 404
    assert "ai/absent" in read_error(response.json())


def test_malformed_and_oversized_bodies(client: TestClient) -> None:
    for path in ("/v1/chat/completions", "/v1/messages", "/api/generate", "/engines/_configure"):
        malformed = client.post(path, content=b"{", headers={"content-type": "application/json"})
        assert malformed.status_code == 400, path
        oversized = client.post(path, content=b"x" * (10 * 1024 * 1024 + 1))
        assert oversized.status_code == 413, path
    assert client.post("/v1/messages", content=b"[1]").json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("field", "value"), [("context-size", 2**31), ("keep_alive", "nan"), ("keep_alive", "inf")]
)
def test_configure_values_that_no_model_could_take_are_a_400_before_any_lookup(client: TestClient, field: str, value) -> None:
    response = client.post("/engines/_configure", json={"model": "ai/absent", field: value})
    assert response.status_code == 400 and response.headers["content-type"].startswith("text/plain"), response.text
    assert field in response.text


def test_unknown_routes_answer_in_the_shape_of_their_prefix(client: TestClient) -> None:
    assert "error" in client.get("/api/nope").json()
    assert client.get("/v1/nope").json()["error"]["type"] == "invalid_request_error"
    assert client.get("/anthropic/v1/nope").json()["type"] == "error"
    assert client.get("/nope").headers["content-type"].startswith("text/plain")
    assert client.get("/v1/chat/completions").status_code == 405


def test_cors_refuses_foreign_origins(client: TestClient) -> None:
    assert client.get("/engines/v1/models", headers={"origin": "https://evil.example"}).status_code == 403
    allowed = client.get("/engines/v1/models", headers={"origin": "http://localhost:3000"})
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:3000"


def _app_paths(routes: list, prefix: str = "") -> set[tuple[str, str]]:
    found = set()
    for route in routes:
        if isinstance(route, Mount):
            found |= _app_paths(getattr(route.app, "routes", []), prefix + route.path)
        elif isinstance(route, Route):
            path = (prefix + route.path).replace(":path}", "}")
            implied = {"HEAD"} if "GET" in route.methods else set()  # Starlette's HEAD for every GET
            found |= {(method.lower(), path) for method in route.methods - implied}
    return found


def test_openapi_describes_every_route(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document == openapi_document(ENDPOINTS)
    described = {(method, path) for path, item in document["paths"].items() for method in item}
    served = _app_paths(client.app.routes) - {("post", "/models/{name}")}  # answers 'unknown action' only
    assert served - described == set()
    assert described - served == set()



def test_an_unknown_backend_is_a_404_in_the_shape_of_the_route(client: TestClient) -> None:
    """Found by schemathesis (response_schema_conformance): Anthropic's routes answered in OpenAI's shape."""
    for path in ("/engines/mlx/v1/messages", "/engines/mlx/v1/messages/count_tokens"):
        anthropic = client.post(path, json={})
        assert anthropic.status_code == 404 and anthropic.json()["type"] == "error", anthropic.text
        assert "backend 'mlx' not found" in anthropic.json()["error"]["message"]
    openai = client.post("/engines/mlx/v1/chat/completions", json={})
    assert openai.status_code == 404 and openai.json()["error"]["type"] == "invalid_request_error", openai.text
