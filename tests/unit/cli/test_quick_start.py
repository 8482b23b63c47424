"""The calls Compose makes on every ``docker compose up`` load only what they use: no typer (whose
pydantic adapters cost more than the answer), no server (starlette, uvicorn), no registry client."""

import json
import subprocess
import sys

import pytest

# Runs the CLI as ``python -m compose_models`` would, then reports which of these modules it loaded.
_REPORT = """
import json, runpy, sys
sys.argv = [sys.argv[0], *sys.argv[1:]]
try:
    runpy.run_module(sys.argv.pop(1), run_name="__main__")
except SystemExit as exit:
    code = exit.code
else:
    code = 0
watched = ("typer", "pydantic", "rich", "starlette", "uvicorn", "numpy", "docker",
           "compose_models.store.registry_client", "compose_models.store.packaging",
           "compose_models.catalog", "compose_models.gateway")
print(json.dumps({"code": code, "loaded": [name for name in watched if name in sys.modules]}), file=sys.stderr)
"""


def _loaded(module: str, *args: str, code: int = 0) -> list[str]:
    result = subprocess.run([sys.executable, "-c", _REPORT, module, *args], capture_output=True, text=True, timeout=120)
    report = json.loads(result.stderr.strip().splitlines()[-1])
    assert (report["code"] or 0) == code, result.stderr
    return report["loaded"]


@pytest.mark.parametrize("module", ["compose_models", "compose_models.cli.docker_plugin"])
def test_ls_json_loads_only_the_store(module: str) -> None:
    assert _loaded(module, "ls", "--json") == []


def test_status_without_a_runner_loads_no_server_nor_typer() -> None:
    # The CLI's status (not the plugin's, which starts a runner first).
    loaded = _loaded("compose_models", "status", "--json")
    assert not {"typer", "pydantic", "starlette", "uvicorn", "numpy", "compose_models.store.registry_client"} & set(loaded)


def test_ps_without_a_runner_fails_cleanly_without_typer() -> None:
    result = subprocess.run([sys.executable, "-m", "compose_models", "ps"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr == "compose-models: error: the runner is not running: start it with `compose-models serve --detach`\n"
    loaded = _loaded("compose_models", "ps", code=1)
    assert not {"typer", "pydantic", "starlette", "uvicorn", "docker", "compose_models.store"} & set(loaded)


def test_a_bad_configure_value_is_still_reported_by_typer() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "compose_models", "configure", "ai/smollm2", "--context-size", "0"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert "--context-size" in result.stderr


def test_help_lists_every_verb_and_the_verb_table_names_their_modules() -> None:
    import importlib

    from compose_models.cli import VERB_MODULE, VERB_MODULES, typer_app

    for name in VERB_MODULES:
        importlib.import_module(f"compose_models.cli.{name}")
    app = typer_app()
    registered = {command.name or command.callback.__name__: command.callback.__module__ for command in app.registered_commands}
    registered |= {group.name: group.typer_instance.registered_commands[0].callback.__module__ for group in app.registered_groups}
    assert {verb: f"compose_models.cli.{module}" for verb, module in VERB_MODULE.items()} == registered
    result = subprocess.run([sys.executable, "-m", "compose_models", "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    for verb in VERB_MODULE:
        assert f" {verb} " in result.stdout, verb


def test_the_quick_verbs_take_the_options_their_typer_verbs_declare() -> None:
    # quick_verbs answers the plain spellings without typer: each must be an option of the typer verb,
    # taking a value where typer's takes one, or a user's spelling would mean one thing here and another there.
    import importlib

    import typer.main

    from compose_models.cli import VERB_MODULE, typer_app
    from compose_models.cli.quick_verbs import QUICK_VERBS

    for verb in QUICK_VERBS:
        importlib.import_module(f"compose_models.cli.{VERB_MODULE[verb]}")
    commands = typer.main.get_command(typer_app()).commands
    for verb, options in QUICK_VERBS.items():
        declared = {opt: not param.is_flag for param in commands[verb].params if hasattr(param, "is_flag") for opt in param.opts}
        assert {option: declared.get(option) for option in options} == options, verb


def test_the_loopback_verbs_load_neither_httpx_nor_docker_py() -> None:
    # status, ps and configure call the runner on loopback through http.client, and ask a unix-socket
    # Docker engine about itself the same way: httpx and docker-py cost more to import than the answer.
    report = _REPORT.replace('watched = ("typer",', 'watched = ("httpx", "requests", "filelock", "typer",')
    for args, code in ((["status", "--json"], 0), (["ps"], 1)):
        result = subprocess.run([sys.executable, "-c", report, "compose_models", *args], capture_output=True, text=True, timeout=120)
        loaded = json.loads(result.stderr.strip().splitlines()[-1])
        assert (loaded["code"] or 0) == code, result.stderr
        assert not {"httpx", "requests", "docker", "filelock", "typer"} & set(loaded["loaded"]), (args, loaded)
