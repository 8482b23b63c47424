"""The runner's errors, one tree, and the one table that says how a request meets each of them and the
store's: the HTTP status and OpenAI's ``code`` and ``param``. The app's exception handlers render that in
the called API's envelope (``http/errors.py``), so a handler lets these errors propagate instead of
translating them by hand.

::

    RunnerError
     ├─ ModelNotFound            404 model_not_found  neither in the store nor at an upstream
     ├─ Conflict                 409                  valid, but clashes with the runner's state
     ├─ InvalidConfiguration     400                  a setting the user must change (also a UserError)
     ├─ EngineError              500                  the engine could not start, or stopped: it crashed
     │   ├─ EngineCrashLoop      503 engine_crashed   crashed too often; not started again until reconfigured
     │   └─ EngineUnavailable    500                  cannot start here: too little memory, no backend
     └─ UpstreamUnavailable      503 upstream_unavailable

This module imports nothing of the runner: the engines, the scheduler, the upstreams and the wire all
raise its kinds.
"""

from collections.abc import Callable
from dataclasses import dataclass

from compose_models.errors import UserError
from compose_models.store import errors as store

ENGINE_CRASHED = "engine_crashed"  # OpenAI's ``code`` for an engine that crashed (or crashes too often)


class RunnerError(Exception):
    """A request the runner cannot serve; its type decides the answer (``ANSWERS``)."""


class ModelNotFound(RunnerError):
    def __init__(self, reference: str) -> None:
        super().__init__(f"model {reference!r} not found")
        self.reference = reference


class Conflict(RunnerError):
    """The request is valid but clashes with the runner's state."""


class InvalidConfiguration(RunnerError, UserError):
    """A model's configuration (context size, runtime flags, draft model) that cannot be used; the message
    names the setting and what was expected. A ``UserError`` too: the CLI reports it as it reports any."""


class EngineError(RunnerError):
    """The engine could not start or stopped unexpectedly; the message carries its log tail."""


class EngineCrashLoop(EngineError):
    """The model's engine crashed too often in a short time; it is not started again until reconfigured."""


class EngineUnavailable(EngineError):
    """No engine can be started for the model here: it does not fit in memory, or its backend is missing."""


class UpstreamUnavailable(RunnerError):
    """No upstream serving the model can take the request now."""


@dataclass(frozen=True)
class Answer:
    """How the runner answers an error: ``status``, OpenAI's ``code`` and ``param``, and the message
    (``str(error)`` unless ``message`` words it for an HTTP caller)."""

    status: int
    code: str | None = None
    param: str | None = None
    message: Callable[[Exception], str] = str


def _not_found(error: Exception) -> str:
    """The store's message tells a CLI user what to run; an API caller hears what every route says."""
    return f"model {getattr(error, 'reference', '')!r} not found"


def _unable_to_load(error: Exception) -> str:
    return f"unable to load runner: {error}"


def _store_unreadable(error: Exception) -> str:
    return f"the model store cannot be read: {error}"


# Looked up along the error's class hierarchy: the most specific type listed wins.
ANSWERS: dict[type[Exception], Answer] = {
    UserError: Answer(400),  # bad input the user can fix: a bad request
    RunnerError: Answer(500),
    ModelNotFound: Answer(404, "model_not_found", "model"),
    Conflict: Answer(409),
    InvalidConfiguration: Answer(400),
    EngineError: Answer(500, message=_unable_to_load),
    EngineCrashLoop: Answer(503, ENGINE_CRASHED),
    EngineUnavailable: Answer(500, message=_unable_to_load),
    UpstreamUnavailable: Answer(503, "upstream_unavailable"),
    store.StoreError: Answer(400),
    store.ModelNotFound: Answer(404, "model_not_found", "model", _not_found),
    store.ModelConflict: Answer(409),
    store.InvalidReference: Answer(400),
    store.InvalidArtifact: Answer(400),
    store.DigestMismatch: Answer(400),
    store.CorruptIndex: Answer(503, "corrupt_index", message=_store_unreadable),  # the runner's fault, not the request's
    store.StoreFull: Answer(507, "insufficient_storage"),
    store.RegistryNotFound: Answer(404),
    store.RegistryError: Answer(400),
}


def answer_for(error: Exception) -> Answer:
    for kind in type(error).__mro__:
        answer = ANSWERS.get(kind)
        if answer is not None:
            return answer
    return Answer(500)
