"""The upstreams file as ``serve`` reads it: what each kind's URL becomes, and the errors of a malformed file."""

from pathlib import Path

import pytest

from compose_models.errors import UserError
from compose_models.runner.upstreams.config import load_upstreams


def _load(tmp_path: Path, text: str) -> list:
    path = tmp_path / "upstreams.yaml"
    path.write_text(text)
    return load_upstreams(path, required=True)


@pytest.mark.parametrize(("kind", "url", "base"), [
    ("compose-models", "http://box:12434", "http://box:12434/engines"),
    ("compose-models", "http://box:12434/engines/v1/", "http://box:12434/engines"),
    ("openai", "https://llm.example.com/openai/v1", "https://llm.example.com/openai"),
    ("vllm", "http://vllm:8000", "http://vllm:8000"),
])  # fmt: skip
def test_each_kind_serves_openai_paths_below_its_base(tmp_path: Path, kind: str, url: str, base: str) -> None:
    [upstream] = _load(tmp_path, f"upstreams: [{{name: a, url: '{url}', kind: {kind}, models: '*'}}]")
    assert upstream.openai_base == base


@pytest.mark.parametrize(("kind", "url", "health"), [
    ("compose-models", "http://box:12434/engines/v1", "http://box:12434/engines/status"),
    ("vllm", "http://vllm:8000/v1", "http://vllm:8000/health"),
    ("openai", "https://llm.example.com/openai/v1", "https://llm.example.com/openai/v1/models"),
])  # fmt: skip
def test_each_kind_has_a_health_check_by_default(tmp_path: Path, kind: str, url: str, health: str) -> None:
    [upstream] = _load(tmp_path, f"upstreams: [{{name: a, url: '{url}', kind: {kind}, models: '*'}}]")
    assert upstream.health_url == health and upstream.health.interval == 10 and upstream.health.failures == 3
    [upstream] = _load(tmp_path, f"upstreams: [{{name: a, url: '{url}', kind: {kind}, models: '*', health: {{path: /health}}}}]")
    assert upstream.health_url == url.removesuffix("/v1").removesuffix("/engines") + "/health"


def test_the_key_comes_from_the_named_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    [upstream] = _load(tmp_path, "upstreams: [{name: a, url: 'http://a', api_key_env: A_KEY, models: [m], prefix: p}]")
    monkeypatch.setenv("A_KEY", "sk-a")
    assert upstream.auth_headers() == {"authorization": "Bearer sk-a"}
    assert upstream.remote_name("p/m") == "m" and upstream.remote_name("m") is None and upstream.local_name("m") == "p/m"


@pytest.mark.parametrize(("text", "message"), [
    ("upstreams: [{name: a, url: 'ftp://a', models: '*'}]", "upstreams[0].url: expected an http:// or https:// URL"),
    ("upstreams: [{name: a, url: 'http://a', models: 3}]", 'upstreams[0].models: expected a list of model names, or "*"'),
    ("upstreams: [{name: a, url: 'http://a', models: '*', kind: tgi}]", "upstreams[0].kind: expected 'openai', "),
    ("upstreams: [{name: a, url: 'http://a', models: '*', timeouts: {read: 0}}]",
     "upstreams[0].timeouts.read: expected greater than 0"),
    ("upstreams: [{name: a, url: 'http://a', models: '*', health: {failures: 0}}]",
     "upstreams[0].health.failures: expected greater than or equal to 1"),
    ("upstreams: [{name: a, url: 'http://a', models: '*', health: {path: health}}]",
     "upstreams[0].health.path: expected a path below the upstream's root, such as /health"),
    ("upstreams: [{name: a, url: 'http://a', models: '*', api_key: sk-x}]", "upstreams[0].api_key: unknown key"),
    ("upstreams: [{name: a, url: 'http://a', models: '*', spill_over: maybe}]",
     "upstreams[0].spill_over: expected a valid boolean"),
    ("upstreams: [{name: a, url: 'http://a', models: '*'}, {name: a, url: 'http://b', models: '*'}]",
     "upstreams: expected upstream names to be unique; 'a' is used twice"),
    ("upstreams: [", "not valid YAML"),
])  # fmt: skip
def test_a_malformed_file_names_the_file_the_key_and_what_was_expected(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(UserError) as raised:
        _load(tmp_path, text)
    assert str(raised.value).startswith(f"{tmp_path / 'upstreams.yaml'}: ") and message in str(raised.value)


def test_the_default_file_may_be_absent_but_a_named_one_may_not(tmp_path: Path) -> None:
    assert load_upstreams(tmp_path / "upstreams.yaml", required=False) == []
    with pytest.raises(UserError, match="no such upstreams file"):
        load_upstreams(tmp_path / "upstreams.yaml", required=True)
