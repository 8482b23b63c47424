"""The Compose provider protocol, for ``provider: {type: compose-models, options: {...}}`` services.

Compose runs ``compose-models compose --project-name=P up --model=M [--context-size=N]
[--runtime-flags="..."] [--speculative-draft-model=D] SERVICE`` and reads JSON messages from stdout: ``info`` lines show progress,
``setenv`` lines become ``<SERVICE>_URL`` / ``<SERVICE>_MODEL`` in every service that depends on the
provider service, ``error`` fails the service.
"""

import json
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from compose_models.errors import UserError
from compose_models.home import home_dir
from compose_models.runner.configuration.presets import PRESETS, with_preset
from compose_models.runner.control import daemon
from compose_models.runner.control.client import RunnerClient
from compose_models.runner.control.state import default_port
from compose_models.store import ModelStore
from compose_models.store.pull import pull_model

_UP_PARAMETERS = [
    {"name": "model", "description": "Model reference, e.g. ai/smollm2 or registry.local/team/model:tag",
     "required": True, "type": "string"},
    {"name": "context-size", "description": "Context size in tokens (default: the model's own)",
     "required": False, "type": "integer"},
    {"name": "runtime-flags", "description": "llama.cpp runtime flags, e.g. \"--temp 0.2\"",
     "required": False, "type": "string"},
    {"name": "preset", "description": f"Named runtime flags: {', '.join(PRESETS)}; runtime-flags override it",
     "required": False, "type": "string"},
    {"name": "speculative-draft-model", "description": "A smaller model with the same vocabulary that drafts tokens "
     "(speculative decoding on llama-server), as Docker Model Runner's provider takes it", "required": False,
     "type": "string"},
]

METADATA = {
    "description": "Serve a model on the host with compose-models; dependents get <SERVICE>_URL and <SERVICE>_MODEL",
    "up": {"parameters": _UP_PARAMETERS},
    "down": {"parameters": []},
    "stop": {"parameters": []},
}

COMMANDS = ("up", "down", "stop", "metadata")


@dataclass
class ProviderCall:
    command: str
    project: str = ""
    service: str = ""
    options: dict[str, str] = field(default_factory=dict)


def parse_call(arguments: list[str]) -> ProviderCall:
    """Accept both ``--project-name=P`` (Compose >= 2.40) and ``--project-name P`` (older)."""
    call = ProviderCall(command="")
    positional: list[str] = []
    tokens = iter(arguments)
    for token in tokens:
        if token.startswith("--"):
            name, has_value, value = token[2:].partition("=")
            if not has_value:
                value = next(tokens, "")
            if name == "project-name":
                call.project = value
            else:
                call.options[name] = value
        else:
            positional.append(token)
    if not positional or positional[0] not in COMMANDS:
        raise UserError(f"compose: expected one of {', '.join(COMMANDS)} as the command, got {positional[:1] or 'nothing'}")
    call.command = positional[0]
    if call.command != "metadata":
        if len(positional) != 2:
            raise UserError(f"compose {call.command}: expected exactly one service name, got {positional[1:]}")
        call.service = positional[1]
    return call


def _emit(kind: str, message: str) -> None:
    sys.stdout.write(json.dumps({"type": kind, "message": message}) + "\n")
    sys.stdout.flush()


def _record_path(call: ProviderCall) -> Path:
    return home_dir() / "projects" / (call.project or "default") / "providers" / f"{call.service}.json"


def _up(call: ProviderCall) -> None:
    reference = call.options.get("model")
    if not reference:
        raise UserError(f"provider service {call.service!r}: the `model` option is required")
    context_size = _context_size(call.options.get("context-size"))
    flags = with_preset(call.options.get("preset") or None, shlex.split(call.options.get("runtime-flags", "")))
    draft = call.options.get("speculative-draft-model") or None
    store = ModelStore.default()
    for needed in (reference, draft):
        if needed is not None and store.find(needed) is None:
            _emit("info", f"pulling {needed}")
            pull_model(store, needed)
    _emit("info", "starting the runner")
    state = daemon.ensure_running(default_port())
    _emit("info", f"configuring {reference}")
    runner = RunnerClient(state)
    runner.configure(reference, context_size, flags, project=call.project or None, draft_model=draft)
    seconds = runner.load(reference, call.project or None)
    _emit("info", f"{call.service}: loaded {reference} in {seconds:.1f} s")
    record = _record_path(call)
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"model": reference}))
    document = daemon.status_document(state.port)
    if document["reach"]["hostGateway"]:
        _emit("info", "containers reach the runner only with `extra_hosts: [host.docker.internal:host-gateway]`, "
                      "which a provider cannot add: give it to the services that depend on this one")
    _emit("setenv", f"URL={document['endpoint']}")
    _emit("setenv", f"MODEL={reference}")


def _context_size(text: str | None) -> int | None:
    if text in (None, "", "-1"):
        return None
    try:
        value = int(text)
    except ValueError:
        raise UserError(f"option context-size: expected an integer, got {text!r}") from None
    if value < 1:
        raise UserError(f"option context-size: expected a positive integer, got {value}")
    return value


def _release(call: ProviderCall, forget: bool) -> None:
    """Unload the model this provider service started; ``down`` also forgets it."""
    record = _record_path(call)
    try:
        model = json.loads(record.read_text())["model"]
    except (OSError, ValueError, KeyError):
        _emit("info", "nothing to release")
        return
    state = daemon.running_runner()
    if state is not None:
        if call.project:
            RunnerClient(state).release(call.project)
        count = RunnerClient(state).unload([model])
        _emit("info", f"unloaded {model}" if count else f"{model} was not loaded")
    if forget:
        record.unlink(missing_ok=True)


def run_provider(arguments: list[str]) -> int:
    """Run one provider call; failures are reported as an ``error`` message (and a non-zero exit)."""
    try:
        call = parse_call(arguments)
        if call.command == "metadata":
            print(json.dumps(METADATA))
        elif call.command == "up":
            _up(call)
        else:
            _release(call, forget=call.command == "down")
    except UserError as error:
        _emit("error", str(error))
        return 1
    return 0
