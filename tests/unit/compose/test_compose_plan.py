"""The resolved plan: models, context sizes, flags and Compose's variable-name rule."""

from __future__ import annotations

import pytest

from compose_models.errors import UserError
from tests.unit.compose.compose_test_helpers import plan_of, write_project  # noqa: F401 (fixture)


def test_list_and_map_syntax_with_compose_variable_names(write_project):
    root = write_project({
        "compose.yaml": """
            services:
              app:
                image: busybox
                models: [my-llm, llama3.2]
              worker:
                image: busybox
                models:
                  my-llm:
                    endpoint_var: AI_URL
                    model_var: AI_NAME
                  llama3.2:
              web:
                image: busybox
            models:
              my-llm:
                model: ai/smollm2
                context_size: 4096
                runtime_flags: ["--temp", "0.1"]
              llama3.2:
                model: ai/llama3.2:1B-Q8_0
                x-note: extensions are allowed
        """
    })
    assert plan_of(root) == {
        "name": "proj",
        "models": {
            "my-llm": {"model": "ai/smollm2", "context_size": 4096, "runtime_flags": ["--temp", "0.1"]},
            "llama3.2": {"model": "ai/llama3.2:1B-Q8_0", "context_size": None, "runtime_flags": []},
        },
        "services": {
            "app": {"models": {
                "my-llm": {"endpoint_var": "MY_LLM_URL", "model_var": "MY_LLM_MODEL"},
                "llama3.2": {"endpoint_var": "LLAMA3.2_URL", "model_var": "LLAMA3.2_MODEL"},
            }},
            "worker": {"models": {
                "my-llm": {"endpoint_var": "AI_URL", "model_var": "AI_NAME"},
                "llama3.2": {"endpoint_var": "LLAMA3.2_URL", "model_var": "LLAMA3.2_MODEL"},
            }},
        },
    }


def test_undefined_model_names_service_key_and_file(write_project):
    root = write_project({"compose.yaml": "services:\n  app:\n    image: x\n    models: [ghost]\n"})
    with pytest.raises(UserError) as caught:
        plan_of(root)
    message = str(caught.value)
    assert 'service "app" refers to undefined model ghost' in message
    assert str(root / "compose.yaml") in message


def test_bad_yaml_names_file_and_line(write_project):
    root = write_project({"compose.yaml": "services:\n  app:\n    image: x\n   bad: [\n"})
    with pytest.raises(UserError) as caught:
        plan_of(root)
    assert f"{root / 'compose.yaml'}:4:" in str(caught.value)


def test_dotenv_and_defaults_are_interpolated(write_project):
    root = write_project({
        ".env": "MODEL=ai/qwen3\nCTX_UNUSED=1\n",
        "compose.yaml": """
            services:
              app: {image: x, models: [llm]}
            models:
              llm:
                model: ${MODEL}
                runtime_flags: ["${FLAG:---verbose}", "$${LITERAL}"]
        """,
    })
    plan = plan_of(root)
    assert plan["models"]["llm"] == {"model": "ai/qwen3", "context_size": None,
                                     "runtime_flags": ["--verbose", "${LITERAL}"]}
    assert plan_of(root, {"MODEL": "from/shell"})["models"]["llm"]["model"] == "from/shell"


def test_two_files_merge_in_order(write_project):
    root = write_project({
        "base.yaml": """
            services:
              app: {image: x, models: [llm]}
            models:
              llm: {model: ai/smollm2, context_size: 2048, runtime_flags: [--a]}
        """,
        "extra.yaml": """
            services:
              app:
                models:
                  llm: {endpoint_var: OPENAI_BASE_URL}
            models:
              llm: {context_size: 8192, runtime_flags: [--b]}
        """,
    })
    plan = plan_of(root, files=["base.yaml", "extra.yaml"])
    assert plan["models"]["llm"] == {"model": "ai/smollm2", "context_size": 8192, "runtime_flags": ["--a", "--b"]}
    assert plan["services"]["app"]["models"]["llm"] == {"endpoint_var": "OPENAI_BASE_URL", "model_var": "LLM_MODEL"}


def test_default_files_found_from_a_subdirectory_with_override(write_project):
    root = write_project({
        "compose.yaml": "services:\n  app: {image: x, models: [llm]}\nmodels:\n  llm: {model: ai/a}\n",
        "compose.override.yaml": "models:\n  llm: {model: ai/b}\n",
        "src/deep/.keep": "",
    }, dir="My Project")
    plan = plan_of(root / "src" / "deep")
    assert plan["name"] == "myproject"
    assert plan["models"]["llm"]["model"] == "ai/b"


def test_project_name_flag_wins(write_project):
    root = write_project({"compose.yaml": "name: from-file\nservices: {}\n"})
    assert plan_of(root)["name"] == "from-file"
    assert plan_of(root, {"COMPOSE_PROJECT_NAME": "from-env"})["name"] == "from-env"
    assert plan_of(root, {"COMPOSE_PROJECT_NAME": "from-env"}, project_name="flag")["name"] == "flag"
