"""Models pinned by the Compose projects that declared them: not unloaded for idleness while the project is up.

``up`` pins a project's models; ``down`` releases them. A pin is kept in the runner's state folder, so a
restarted runner knows it again, and it is dropped once its project is no longer up: the engine's running
containers are looked at every ``COMPOSE_MODELS_PROJECT_CHECK_INTERVAL`` (a Go duration, default 30s).
A project not yet seen up (its containers are being created) keeps its pins for
``COMPOSE_MODELS_PIN_GRACE`` (default 10m) after ``up`` pinned them.
"""

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compose_models.errors import UserError
from compose_models.runner.scheduling.settings import duration_setting
from compose_models.runner.scheduling.state_file import read_document, write_document

CHECK_INTERVAL_VARIABLE = "COMPOSE_MODELS_PROJECT_CHECK_INTERVAL"
GRACE_VARIABLE = "COMPOSE_MODELS_PIN_GRACE"
MAX_PROJECTS = 256
MAX_MODELS_PER_PROJECT = 64


def check_interval() -> float:
    return duration_setting(CHECK_INTERVAL_VARIABLE, 30.0)


def grace() -> float:
    return duration_setting(GRACE_VARIABLE, 600.0)


@dataclass
class _Project:
    models: dict[str, str] = field(default_factory=dict)  # model ID -> the name the project used
    pinned_at: float = field(default_factory=time.time)
    seen_up: bool = False  # its containers were seen running since it pinned


class Pins:
    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._projects: dict[str, _Project] = {}
        if path is not None:
            self._restore(read_document(path))

    def _restore(self, document: dict[str, Any]) -> None:
        projects = document.get("projects")
        if not isinstance(projects, dict):
            return
        for name, entry in list(projects.items())[:MAX_PROJECTS]:
            models = entry.get("models") if isinstance(entry, dict) else None
            if not isinstance(models, dict):
                continue
            kept = {str(k): str(v) for k, v in list(models.items())[:MAX_MODELS_PER_PROJECT]}
            pinned_at = entry.get("pinned_at")
            self._projects[str(name)] = _Project(
                kept, float(pinned_at) if isinstance(pinned_at, (int, float)) else time.time(), bool(entry.get("seen_up"))
            )

    def _save(self) -> None:
        if self._path is not None:
            document = {name: {"models": p.models, "pinned_at": p.pinned_at, "seen_up": p.seen_up}
                        for name, p in self._projects.items()}  # fmt: skip
            write_document(self._path, {"projects": document})

    def pin(self, project: str, model_id: str, reference: str) -> None:
        if project not in self._projects and len(self._projects) >= MAX_PROJECTS:
            raise UserError(f"more than {MAX_PROJECTS} Compose projects pin models; take some down first")
        entry = self._projects.setdefault(project, _Project())
        if model_id not in entry.models and len(entry.models) >= MAX_MODELS_PER_PROJECT:
            raise UserError(f"project {project!r} pins more than {MAX_MODELS_PER_PROJECT} models")
        entry.models[model_id] = reference
        entry.pinned_at, entry.seen_up = time.time(), False
        self._save()

    def release(self, project: str) -> list[str]:
        """Forget the project's pins; the model IDs it pinned."""
        entry = self._projects.pop(project, None)
        if entry is None:
            return []
        self._save()
        return list(entry.models)

    def projects_of(self, model_id: str) -> list[str]:
        return sorted(name for name, entry in self._projects.items() if model_id in entry.models)

    def projects(self) -> list[str]:
        return list(self._projects)

    def models_of(self, projects: set[str]) -> dict[str, str]:
        """Model ID -> name, of the models ``projects`` pin."""
        return {model_id: ref for name in projects if name in self._projects for model_id, ref in self._projects[name].models.items()}

    def gone(self, running: set[str], now: float, grace_seconds: float) -> list[str]:
        """Note which pinning projects are up; the ones that are not (any more), to release."""
        gone = []
        for name, entry in self._projects.items():
            if name in running:
                if not entry.seen_up:
                    entry.seen_up = True
                    self._save()
            elif entry.seen_up or now - entry.pinned_at > grace_seconds:
                gone.append(name)
        return gone
