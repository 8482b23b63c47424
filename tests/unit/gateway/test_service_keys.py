"""Per-service keys: issued by `up`, checked by the runner, and callers behind one address told apart by them."""

import json
import stat
from pathlib import Path

from compose_models.compose import ProjectOptions, load_project, resolve_plan
from compose_models.gateway.keys import ApiKeys
from compose_models.gateway.limits import Limits
from compose_models.gateway.service_keys import ServiceKeys, issued_service_keys
from compose_models.gateway.settings import GatewaySettings
from compose_models.orchestrator.caller_keys import caller_key_environment, key_variable
from compose_models.server import with_gateway
from tests.unit.gateway.test_middleware import call, streaming_app

KEYS = ServiceKeys(b"s" * 32)


def test_a_key_names_the_service_it_was_issued_to_and_cannot_be_forged() -> None:
    key = KEYS.issue("shop", "web")
    caller = KEYS.caller_of(key)
    assert caller is not None and (caller.project, caller.service, caller.name) == ("shop", "web", "shop/web")
    assert KEYS.issue("shop", "web") == key  # the same on every `up`, so a recreated container keeps its key
    assert KEYS.caller_of(KEYS.issue("shop", "worker")) != caller
    assert ServiceKeys(b"t" * 32).caller_of(key) is None  # another runner's secret
    prefix, name, tag = key.split(".")
    assert KEYS.caller_of(f"{prefix}.{KEYS.issue('x', 'admin').split('.')[1]}.{tag}") is None  # a tag moved to another name
    for garbage in ("", "sk-alice", "cm-svc.", "cm-svc.!!.x", f"{prefix}.{name}.", f"{prefix}.{name}.{tag}x"):
        assert KEYS.caller_of(garbage) is None


def test_the_runner_keeps_a_secret_only_while_keys_or_limits_are_on(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("COMPOSE_MODELS_HOME", str(tmp_path))
    for variable in ("COMPOSE_MODELS_API_KEYS", "COMPOSE_MODELS_API_KEYS_FILE", "COMPOSE_MODELS_TOKENS_PER_MINUTE",
                     "COMPOSE_MODELS_CONCURRENT_REQUESTS", "COMPOSE_MODELS_REQUESTS_PER_MINUTE"):  # fmt: skip
        monkeypatch.delenv(variable, raising=False)
    assert GatewaySettings.for_runner(tmp_path / "logs").service_keys is None and issued_service_keys() is None

    monkeypatch.setenv("COMPOSE_MODELS_REQUESTS_PER_MINUTE", "5")
    first = GatewaySettings.for_runner(tmp_path / "logs").service_keys
    assert first is not None and issued_service_keys() == first
    assert stat.S_IMODE((tmp_path / "runner" / "service-key-secret").stat().st_mode) == 0o600
    assert GatewaySettings.for_runner(tmp_path / "logs").service_keys == first  # a restart keeps issued keys valid

    monkeypatch.delenv("COMPOSE_MODELS_REQUESTS_PER_MINUTE")
    GatewaySettings.for_runner(tmp_path / "logs")
    assert issued_service_keys() is None


def test_two_services_behind_one_address_are_two_callers_limited_separately(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    app = with_gateway(streaming_app, GatewaySettings(ApiKeys({}), Limits(requests_per_minute=1), log, KEYS))
    web, worker = ({"authorization": f"Bearer {KEYS.issue('shop', name)}"} for name in ("web", "worker"))
    assert call(app, "/engines/v1/chat/completions", web)[0]["status"] == 200
    assert call(app, "/engines/v1/chat/completions", worker)[0]["status"] == 200
    assert call(app, "/engines/v1/chat/completions", web)[0]["status"] == 429
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["caller"], e["caller_kind"], e["status"]) for e in entries] == [
        ("shop/web", "service", 200), ("shop/worker", "service", 200), ("shop/web", "service", 429)
    ]
    assert {(e["project"], e["service"], e["address"]) for e in entries[:2]} == {
        ("shop", "web", "127.0.0.1"), ("shop", "worker", "127.0.0.1")
    }


def test_with_api_keys_a_service_key_is_accepted_and_a_forged_one_refused(tmp_path: Path) -> None:
    settings = GatewaySettings(ApiKeys({"sk-alice": "alice"}), Limits(), tmp_path / "requests.jsonl", KEYS)
    app = with_gateway(streaming_app, settings)
    assert call(app, "/v1/chat/completions", {"x-api-key": KEYS.issue("shop", "web")})[0]["status"] == 200
    forged = call(app, "/v1/chat/completions", {"x-api-key": ServiceKeys(b"t" * 32).issue("shop", "web")})
    assert forged[0]["status"] == 401 and "OPENAI_API_KEY" in json.loads(forged[1]["body"])["error"]["message"]
    assert call(app, "/v1/chat/completions", {"x-api-key": "sk-alice"})[0]["status"] == 200


def test_up_gives_each_bound_service_its_key_beside_its_url(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n"
        "  web: {image: busybox, models: [llm]}\n"
        "  worker: {image: busybox, models: {llm: {endpoint_var: OPENAI_BASE_URL}}}\n"
        "  own: {image: busybox, models: [llm], environment: {OPENAI_API_KEY: sk-theirs}}\n"
        "  plain: {image: busybox}\n"
        "models:\n  llm: {model: ai/smollm2}\n"
    )
    options = ProjectOptions(files=[str(tmp_path / "compose.yaml")], project_name="shop", cwd=tmp_path, environ={})
    project = load_project(options)
    environment = caller_key_environment(resolve_plan(project), project, KEYS)
    assert environment == {
        "web": {"LLM_API_KEY": KEYS.issue("shop", "web"), "OPENAI_API_KEY": KEYS.issue("shop", "web")},
        "worker": {"OPENAI_API_KEY": KEYS.issue("shop", "worker")},
        "own": {"LLM_API_KEY": KEYS.issue("shop", "own")},
    }
    assert [key_variable(name) for name in ("LLM_URL", "OPENAI_BASE_URL", "AI_ENDPOINT")] == [
        "LLM_API_KEY", "OPENAI_API_KEY", "AI_ENDPOINT_API_KEY"
    ]
