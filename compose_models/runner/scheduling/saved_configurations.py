"""The models' configurations, kept in ``$COMPOSE_MODELS_HOME/runner/configurations.json`` so that a
restarted runner serves each model as it was configured (by ``configure``, or a Compose project's ``up``).

Whatever fields the configuration holds are saved; on restore the ones this runner does not know are
ignored, and the scheduler checks each configuration again (runtime flags against the allow-list).
"""

import dataclasses
from pathlib import Path
from typing import Any, TypeVar

from compose_models.log import say
from compose_models.runner.scheduling.state_file import read_document, write_document

MAX_CONFIGURATIONS = 1000
VERSION = 1

T = TypeVar("T")


def load_configurations(path: Path, factory: type[T]) -> dict[str, T]:
    """Model ID -> configuration; entries of the wrong shape are said in the log and left out."""
    document = read_document(path)
    models = document.get("models", {})
    if not isinstance(models, dict):
        say(f"{path}: 'models' is not an object; starting with default configurations")
        return {}
    known = {f.name for f in dataclasses.fields(factory)}  # type: ignore[arg-type]
    restored: dict[str, T] = {}
    for model_id, entry in list(models.items())[:MAX_CONFIGURATIONS]:
        if not isinstance(entry, dict):
            say(f"{path}: the configuration of {model_id} is not an object; it is ignored")
            continue
        try:
            restored[str(model_id)] = factory(**{key: value for key, value in entry.items() if key in known})
        except TypeError as error:
            say(f"{path}: the configuration of {model_id} is ignored ({error})")
    return restored


def save_configurations(path: Path, configurations: dict[str, Any]) -> None:
    entries = {model_id: dataclasses.asdict(configuration) for model_id, configuration in configurations.items()}
    if len(entries) > MAX_CONFIGURATIONS:
        say(f"only the last {MAX_CONFIGURATIONS} configurations are saved")
        entries = dict(list(entries.items())[-MAX_CONFIGURATIONS:])
    write_document(path, {"version": VERSION, "models": entries})
