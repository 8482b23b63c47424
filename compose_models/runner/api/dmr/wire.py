"""What the scheduler reports, in Docker Model Runner's JSON (and the dashboard's rows, which add to it)."""

import time
from typing import Any

from compose_models.runner.api.dmr.configurations import configured_settings
from compose_models.runner.scheduling.scheduler import LoadedEngine
from compose_models.runner.upstreams.remote_models import RemoteModel, RemoteModels
from compose_models.units import GO_ZERO_TIME, format_duration, rfc3339


def loaded_engine_json(engine: LoadedEngine, with_engine: bool = False) -> dict[str, Any]:
    """One entry of ``GET /engines/ps``; while in use, ``last_used`` is Go's zero time, as DMR shows it.
    ``with_engine`` (``?engine``, management only): where its engine answers and with which key, so that
    ``compose-models bench --direct`` can call it past the runner."""
    entry: dict[str, Any] = {
        "backend_name": engine.backend_name,
        "model_name": engine.reference,
        "mode": engine.mode,
        "last_used": GO_ZERO_TIME if engine.in_use else rfc3339(engine.last_used),
    }
    if engine.in_use:
        entry["in_use"] = True
    if engine.loading:
        entry["loading"] = True
    if engine.keep_alive is not None:
        entry["keep_alive"] = format_duration(engine.keep_alive)
    if engine.pinned_by:
        entry["pinned_by"] = list(engine.pinned_by)
    settings = configured_settings(engine.configuration)
    if settings:
        entry["settings"] = settings
    if with_engine and engine.engine is not None and engine.engine.is_running() and not engine.loading:
        spec = engine.engine.spec
        entry["engine"] = {"backend": spec.backend, "url": engine.engine.base_url, "alias": spec.alias,
                           "key": engine.engine.api_key}  # fmt: skip
    return entry


def remote_models_json(remote_models: RemoteModels) -> list[dict[str, Any]]:
    """The upstreams' models as ``GET /engines/ps`` entries, marked by backend ``upstream:<name>`` and mode
    ``remote``: nothing of them is loaded here, but they are served here."""
    return [_remote_model_json(model, *remote_models.activity(model)) for model in remote_models.known()]


def _remote_model_json(model: RemoteModel, in_flight: int, last_used: float | None, ejected: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "backend_name": f"upstream:{model.upstream.name}",
        "model_name": model.name,
        "mode": "remote",
        "last_used": GO_ZERO_TIME if in_flight or last_used is None else rfc3339(last_used),
        "upstream": model.upstream.name,
    }
    if in_flight:
        entry["in_use"] = True
    if ejected:
        entry["ejected"] = True  # its health checks failed: no request goes to it until one passes
    return entry


def dashboard_row(engine: LoadedEngine) -> dict[str, Any]:
    """Its ``/engines/ps`` entry (the page reads those in front of a remote runner), with the seconds
    until it unloads when idle and the model's size."""
    unloads_in = None
    if engine.unloads_after >= 0 and not engine.in_use and not engine.loading and not engine.pinned_by:
        unloads_in = max(0.0, engine.last_used + engine.unloads_after - time.time())
    size = getattr(engine.model, "size", None)
    return {**loaded_engine_json(engine), "unloads_in": unloads_in, "memory": size if isinstance(size, int) else None}
