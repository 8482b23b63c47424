"""The verbs Compose runs on every ``docker compose up`` (``status --json``, ``ls --json``, ``configure``
per model) and ``ps``, answered without building the typer app: typer and the pydantic adapters it
builds for every parameter take longer than the answer.

The typer verbs call the same functions, so output, errors and exit codes are the same. ``answer``
takes only the plain spellings; anything else (``--help``, an unknown option, a bad value) is left to
typer, which parses and reports it as before.
"""

import json
import re
import sys
import time
from typing import TYPE_CHECKING

from compose_models.errors import UserError

if TYPE_CHECKING:
    from compose_models.runner.control.client import RunnerClient
    from compose_models.runner.control.state import RunnerState
    from compose_models.store import StoredModel

_LS_COLUMNS = ("MODEL NAME", "PARAMETERS", "QUANTIZATION", "ARCHITECTURE", "MODEL ID", "CREATED", "CONTEXT", "SIZE")

# The one table of what is answered here: per verb, the options taken (a flag, or one taking a value).
# The typer verb of the same name declares each of them with the same spelling; tests/unit/cli checks
# that it does, so a spelling changed on one side fails there, not in a user's `docker compose up`.
QUICK_VERBS: dict[str, dict[str, bool]] = {  # option -> takes a value
    "status": {"--json": False},
    "ps": {"--json": False},
    "ls": {"--json": False},
    "configure": {"--context-size": True, "--keep-alive": True, "--preset": True},
}


def answer(argv: list[str]) -> int | None:
    """Run ``argv`` when it is a plain call of a quick verb and return its exit status; None otherwise."""
    if not argv or argv[0] not in QUICK_VERBS:
        return None
    verb, rest = argv[0], argv[1:]
    if verb == "configure":
        parsed = _parse_configure(rest)
        if parsed is None:
            return None
        configure(*parsed)
        return 0
    if len(set(rest)) != len(rest) or not set(rest) <= QUICK_VERBS[verb].keys():
        return None
    json_output = "--json" in rest
    if verb == "status":
        return status(json_output)
    if verb == "ps":
        ps(json_output)
    else:
        list_models(as_json=json_output, quiet=False)
    return 0


def _parse_configure(args: list[str]) -> tuple[str, int | None, str | None, str | None, list[str]] | None:
    """``[--context-size N] [--keep-alive D] [--preset P] MODEL [FLAGS...] [-- FLAGS...]``, options before
    ``--`` once each, N a positive integer; None for anything else."""
    values: dict[str, str] = {}
    positional: list[str] = []
    rest = list(args)
    while rest:
        token = rest.pop(0)
        if token == "--":
            positional += rest
            break
        if not token.startswith("-"):
            positional.append(token)
            continue
        name, equals, value = token.partition("=")
        if not QUICK_VERBS["configure"].get(name) or name in values or not (equals or rest):
            return None
        values[name] = value if equals else rest.pop(0)
    size = values.get("--context-size")
    if not positional or (size is not None and not (re.fullmatch(r"[0-9]+", size) and int(size) >= 1)):
        return None
    return positional[0], int(size) if size else None, values.get("--keep-alive"), values.get("--preset"), positional[1:]


def status(json_output: bool) -> int:
    """Is the runner up, and at which URLs do containers and host processes reach it."""
    from compose_models.runner.control import daemon
    from compose_models.runner.control.state import default_port

    document = daemon.status_document(default_port())
    if json_output:
        print(json.dumps(document))
        return 0
    if not document["running"]:
        print("compose-models runner is not running")
        return 1
    print(f"compose-models runner is running\n  containers: {document['endpoint']}\n  host: {document['endpointHost']}")
    return 0


def require_runner_state() -> "RunnerState":
    from compose_models.runner.control import daemon

    state = daemon.running_runner()
    if state is None:
        raise UserError("the runner is not running: start it with `compose-models serve --detach`")
    return state


def require_runner() -> "RunnerClient":
    from compose_models.runner.control.client import RunnerClient

    return RunnerClient(require_runner_state())


def ps(json_output: bool) -> None:
    """Models loaded in the runner."""
    running = require_runner().running()
    if json_output:
        print(json.dumps(running, indent=2))
        return
    print(f"{'MODEL NAME':<40} {'BACKEND':<10} {'MODE':<12} {'LAST USED':<22} {'PINNED BY':<20} SETTINGS")
    for entry in running:
        pinned = ", ".join(entry.get("pinned_by", [])) or "-"
        print(
            f"{entry['model_name']:<40} {entry['backend_name']:<10} {entry['mode']:<12} {entry['last_used']:<22} "
            f"{pinned:<20} {_settings_text(entry.get('settings', {}))}"
        )


def _settings_text(settings: dict) -> str:
    """``context-size 2048 (compose project p), runtime-flags --temp 0 (configure)``; "defaults" when none."""
    parts = []
    for name, setting in settings.items():
        value = " ".join(setting["value"]) if isinstance(setting["value"], list) else setting["value"]
        parts.append(f"{name} {value} ({setting['from']})")
    return ", ".join(parts) or "defaults"


def configure(
    model: str, context_size: int | None, keep_alive: str | None, preset: str | None, runtime_flags: list[str],
    project: str | None = None, draft_model: str | None = None,
) -> None:  # fmt: skip
    """Set a model's context size, keep-alive, runtime flags and draft model on the runner, starting it if need be.

    ``project``: the Compose project that runs this (``docker compose up`` through the plugin): the model
    is also loaded now and kept loaded while the project is up."""
    from compose_models.runner.configuration.presets import with_preset
    from compose_models.runner.control import daemon
    from compose_models.runner.control.client import RunnerClient
    from compose_models.runner.control.state import default_port

    if keep_alive is not None:
        check_duration(keep_alive, "--keep-alive")
    client = RunnerClient(daemon.ensure_running(default_port()))
    client.configure(
        model, context_size, with_preset(preset, runtime_flags), keep_alive, project, draft_model=draft_model
    )
    if project:
        seconds = client.load(model, project)
        print(f"loaded {model} in {seconds:.1f} s", file=sys.stderr, flush=True)


def reset_configuration(model: str) -> None:
    """Forget a model's configuration: it runs with the defaults again, also after a restart."""
    require_runner().reset(model)
    print(f"{model}: configuration reset to the defaults")


def check_duration(text: str, option: str) -> None:
    from compose_models.units import parse_duration

    try:
        parse_duration(text)
    except ValueError as error:
        raise UserError(f"{option}: {error}") from None


def list_models(as_json: bool, quiet: bool) -> None:
    """List the models in the local store."""
    from compose_models.cli.tables import format_table
    from compose_models.store import ModelStore
    from compose_models.store.gojson import go_marshal_indent

    models = ModelStore.default().models()
    if as_json:
        print(go_marshal_indent([model.to_dmr_json() for model in models], 4).decode())
    elif quiet:
        for model in models:
            print(model.short_id)
    else:
        print(format_table([_LS_COLUMNS, *_ls_rows(models)]), end="")


def _ls_rows(models: list["StoredModel"]) -> list[tuple[str, ...]]:
    from compose_models.store import display_name
    from compose_models.units import human_duration

    now = time.time()
    rows = []
    for model in models:
        config = model.config
        context = str(model.context_size) if model.context_size else ""
        created = f"{human_duration(now - model.created)} ago" if model.created else ""
        details = (
            config.get("parameters", ""), config.get("quantization", ""), config.get("architecture", ""),
            model.short_id, created, context, config.get("size", ""),
        )  # fmt: skip
        for name in model.tags or ("<none>",):
            rows.append((display_name(name), *details))
    return sorted(rows, key=lambda row: row[0].lower())
