"""The route table's kinds that depend on the query: ``GET /models/{name}?remote`` asks a registry with the
host's credentials, so it is management; the same route without it reads the local store."""

import pytest

from compose_models.runner.routes import RouteTable


@pytest.mark.parametrize("query", ["remote", "remote=", "remote=1", "remote=true", "tag=x&remote=1"])
def test_the_remote_form_of_get_model_is_management(query: str) -> None:
    kind = RouteTable().kind("GET", "/models/registry.example/team/private:v1", query)
    assert kind.management and not kind.inference


@pytest.mark.parametrize("query", ["", "remote=0", "remote=false", "remotely=1"])
def test_the_local_form_of_get_model_is_a_read(query: str) -> None:
    assert not RouteTable().kind("GET", "/models/team/model:v1", query).management
