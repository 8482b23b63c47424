"""Loading rules that the differential suite cannot show (Compose behaves differently or has no equivalent)."""

from __future__ import annotations

import io

import pytest

from compose_models.compose import ProjectOptions, load_project
from compose_models.errors import UserError
from tests.unit.compose.compose_test_helpers import plan_of, write_project  # noqa: F401 (fixture)


def test_model_keys_must_match_the_schema_pattern(write_project):
    # Docker Compose accepts (and later mangles) such keys; we reject them up front.
    root = write_project({"compose.yaml": 'services:\n  app: {image: x}\nmodels:\n  "my model": {model: ai/m}\n'})
    with pytest.raises(UserError) as caught:
        plan_of(root)
    assert "compose.yaml:4: models.my model: invalid model key 'my model'" in str(caught.value)


def test_compose_file_from_stdin(tmp_path):
    text = "services:\n  app: {image: x, models: [llm]}\nmodels:\n  llm: {model: ai/stdin}\n"
    project = load_project(ProjectOptions(files=["-"], cwd=tmp_path, environ={}, stdin=io.StringIO(text)))
    assert project.models["llm"].model == "ai/stdin"
    assert project.working_dir == tmp_path


def test_project_exposes_every_declared_model_but_only_enabled_services(write_project):
    root = write_project({"compose.yaml": """
        services:
          app: {image: x, models: [llm]}
          debug: {image: x, models: [big], profiles: [debug]}
        models:
          llm: {model: ai/small}
          big: {model: ai/big, x-owner: team}
    """})
    project = load_project(ProjectOptions(cwd=root, environ={}))
    assert set(project.models) == {"llm", "big"}
    assert project.models["big"].extensions == {"x-owner": "team"}
    assert list(project.services) == ["app"]
    assert project.disabled_services == ["debug"]
    assert project.config_files == [root / "compose.yaml"]
    assert project.environment["COMPOSE_PROJECT_NAME"] == "proj"
    assert plan_of(root)["models"].keys() == {"llm"}


def test_env_files_used_are_reported(write_project):
    root = write_project({".env": "A=1\n", "compose.yaml": "services:\n  app: {image: x}\n"})
    project = load_project(ProjectOptions(cwd=root, environ={}))
    assert project.env_files == [root / ".env"]
    assert project.environment["A"] == "1"


def test_interpolation_error_names_file_line_and_path(write_project):
    root = write_project({"compose.yaml": "services:\n  app:\n    image: x\n    environment:\n      - A=${NEED:?}\n"})
    with pytest.raises(UserError) as caught:
        plan_of(root)
    assert str(caught.value) == (
        f"{root / 'compose.yaml'}:5: error while interpolating services.app.environment.[]: "
        "required variable NEED is missing a value"
    )


def _fuzz_documents():
    from hypothesis import strategies as st

    scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 5000), st.sampled_from(["llm", "ai/m", "x", "${A:-b}", "--f"]))
    keys = st.sampled_from(["llm", "app", "model", "context_size", "runtime_flags", "endpoint_var", "image", "models",
                            "depends_on", "profiles", "extends", "service", "x-e", "name", "required"])
    values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
                          max_leaves=8)
    service_keys = ["models", "depends_on", "profiles", "extends", "environment", "x-e"]
    service = st.fixed_dictionaries({"image": st.just("x")}, optional={key: values for key in service_keys})
    services = st.dictionaries(st.sampled_from(["app", "db"]), service | values, max_size=2)
    model = st.fixed_dictionaries({"model": scalars}, optional={key: values for key in ["context_size", "runtime_flags", "name"]})
    models = st.dictionaries(st.sampled_from(["llm", "x-m", "db"]), model | values, max_size=2)
    return st.fixed_dictionaries({}, optional={"services": services, "models": models, "include": values, "name": values})


def test_malformed_files_give_user_errors_never_tracebacks(tmp_path_factory):
    try:
        from hypothesis import HealthCheck, given, settings
    except ImportError:
        from tests.conftest import require

        require(False, "hypothesis is not installed (pip install hypothesis)")
        return
    import json

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(_fuzz_documents())
    def check(document):
        root = tmp_path_factory.mktemp("fuzz")
        (root / "compose.yaml").write_text(json.dumps(document))
        try:
            load_project(ProjectOptions(cwd=root, environ={}))
        except UserError as error:
            assert "\n" not in str(error)

    check()
