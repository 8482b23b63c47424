"""The Responses routes in-process, without an engine: their place in the route table, and stored
responses read back, paged and refused in OpenAI's error shape."""

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from compose_models.gateway.keys import ApiKeys
from compose_models.gateway.limits import Limits
from compose_models.gateway.settings import GatewaySettings
from compose_models.runner.api.responses.store import new_response_id
from compose_models.runner.app import create_app
from compose_models.runner.http.dialects import Dialect
from compose_models.runner.routes import RouteTable
from compose_models.runner.services import services_of
from compose_models.server import runner_front

ITEMS = [{"type": "message", "id": f"msg_{n}", "role": "user", "content": []} for n in range(5)]


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    with TestClient(create_app(tmp_path / "models", tmp_path / "logs")) as client:
        yield client


def test_creating_is_inference_and_reading_is_neither_inference_nor_management() -> None:
    """So keys, limits, the request log and metrics apply to creating, as to chat completions."""
    kind = RouteTable().kind
    for prefix in ("/v1", "/engines/v1", "/engines/llama.cpp/v1"):
        assert kind("POST", f"{prefix}/responses") == kind("POST", f"{prefix}/chat/completions")
        for method, path in (("GET", "/responses/resp_1"), ("DELETE", "/responses/resp_1"), ("GET", "/responses/resp_1/input_items")):
            found = kind(method, f"{prefix}{path}")
            assert found.dialect is Dialect.OPENAI and not (found.inference or found.management or found.keyless)


def test_input_items_are_paged_in_either_order(client: TestClient) -> None:
    response_id = new_response_id()
    services_of(client.app).responses.save({"id": response_id, "object": "response", "output": []}, ITEMS)
    assert client.get(f"/v1/responses/{response_id}").json()["id"] == response_id
    newest = client.get(f"/engines/v1/responses/{response_id}/input_items", params={"limit": 2}).json()
    assert [item["id"] for item in newest["data"]] == ["msg_4", "msg_3"] and newest["has_more"]
    assert (newest["first_id"], newest["last_id"]) == ("msg_4", "msg_3")
    rest = client.get(f"/v1/responses/{response_id}/input_items", params={"order": "asc", "after": "msg_2"}).json()
    assert [item["id"] for item in rest["data"]] == ["msg_3", "msg_4"] and not rest["has_more"]
    assert client.delete(f"/v1/responses/{response_id}").json() == {"id": response_id, "object": "response.deleted", "deleted": True}
    assert client.get(f"/v1/responses/{response_id}").status_code == 404


@pytest.mark.parametrize(("method", "path", "status", "param"), [
    ("GET", f"/v1/responses/{'resp_' + '0' * 32}", 404, "response_id"),
    ("DELETE", f"/v1/responses/{'resp_' + '0' * 32}", 404, "response_id"),
    ("GET", "/v1/responses/resp_..", 400, "response_id"),
    ("GET", "/v1/responses/..%2F..%2Fstate", 404, None),  # a slash: no route has it
    ("GET", "/engines/v1/responses/resp_ABC/input_items", 400, "response_id"),
])  # fmt: skip
def test_unknown_and_malformed_ids_are_refused_in_openais_shape(client: TestClient, method: str, path: str, status: int, param: str) -> None:
    answer = client.request(method, path)
    assert answer.status_code == status
    error = answer.json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error" and error["message"]


@pytest.mark.parametrize(("query", "param"), [({"limit": "0"}, "limit"), ({"limit": "x"}, "limit"),
                                              ({"order": "up"}, "order"), ({"after": "msg_9"}, "after")])  # fmt: skip
def test_bad_paging_names_the_parameter(client: TestClient, query: dict, param: str) -> None:
    response_id = new_response_id()
    services_of(client.app).responses.save({"id": response_id, "output": []}, ITEMS)
    answer = client.get(f"/v1/responses/{response_id}/input_items", params=query)
    assert answer.status_code == 400 and answer.json()["error"]["param"] == param


def test_an_unknown_model_or_none_is_refused_before_any_engine(client: TestClient) -> None:
    unknown = client.post("/v1/responses", json={"model": "ai/absent", "input": "Hi"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found"
    missing = client.post("/v1/responses", json={"input": "Hi"})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "model"


def test_a_stored_response_is_seen_only_under_the_key_that_created_it(tmp_path: Path) -> None:
    """Behind keys, another key's holder reading, continuing or deleting it finds nothing."""
    runner = create_app(tmp_path / "models", tmp_path / "logs")
    settings = GatewaySettings(ApiKeys({"alice-key": "alice", "bob-key": "bob"}), Limits(), tmp_path / "requests.jsonl")
    with TestClient(runner_front(runner, settings)) as client:
        response_id = new_response_id()
        services_of(runner).responses.save({"id": response_id, "object": "response", "output": []}, ITEMS, owner="alice")
        alice, bob = ({"Authorization": f"Bearer {name}-key"} for name in ("alice", "bob"))
        for method, path in (("GET", ""), ("GET", "/input_items"), ("DELETE", "")):
            assert client.request(method, f"/v1/responses/{response_id}{path}", headers=bob).status_code == 404
        follow_up = {"model": "m", "input": "and then?", "previous_response_id": response_id}
        refused = client.post("/v1/responses", json=follow_up, headers=bob)
        assert (refused.status_code, refused.json()["error"]["param"]) == (404, "previous_response_id")
        assert client.get(f"/v1/responses/{response_id}/input_items", headers=alice).json()["data"]
        assert client.delete(f"/v1/responses/{response_id}", headers=alice).json()["deleted"] is True
