"""The runner's reach proof, in-process: it proves the secret without revealing it, and needs no API key."""

from pathlib import Path

from starlette.testclient import TestClient

from compose_models.gateway.keys import ApiKeys
from compose_models.gateway.limits import Limits
from compose_models.gateway.settings import GatewaySettings
from compose_models.runner.app import create_app
from compose_models.runner.reach.proof import new_challenge, reach_answer
from compose_models.server import runner_front


def _client(tmp_path: Path, secret: str | None, keys: dict[str, str] | None = None) -> TestClient:
    runner = create_app(tmp_path / "models", tmp_path / "logs", reach_secret=secret)
    return TestClient(runner_front(runner, GatewaySettings(ApiKeys(keys or {}), Limits(), tmp_path / "requests.jsonl")))


def test_the_answer_is_an_hmac_of_the_challenge_under_the_runners_secret(tmp_path: Path) -> None:
    secret, challenge = "s" * 64, new_challenge()
    with _client(tmp_path, secret, {"k": "alice"}) as client:  # keys on: containers probe before they have one
        answer = client.get(f"/engines/reach?challenge={challenge}")
        other = client.get(f"/engines/reach?challenge={new_challenge()}")
    assert answer.status_code == 200
    assert answer.text == reach_answer(secret, challenge)
    assert answer.text != reach_answer("another runner's secret", challenge)
    assert secret not in answer.text and other.text != answer.text


def test_a_bad_challenge_or_no_secret_is_an_error_like_the_other_management_routes(tmp_path: Path) -> None:
    with _client(tmp_path, "s" * 64) as client:
        bad = client.get("/engines/reach?challenge=not-hex")
    assert bad.status_code == 400 and bad.text.startswith("challenge: expected")
    with _client(tmp_path, None) as client:
        assert client.get(f"/engines/reach?challenge={new_challenge()}").status_code == 404
