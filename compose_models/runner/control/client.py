"""Calls from the CLI and the orchestrator to a running runner (on loopback, through ``local_http``)."""

from collections.abc import Sequence
from typing import Any, cast
from urllib.parse import urlencode

from compose_models.errors import UserError
from compose_models.runner.control.local_http import LocalAnswer, LocalHTTPError, local_request
from compose_models.runner.control.local_key import local_auth_headers
from compose_models.runner.control.state import RunnerState


class RunnerClient:
    def __init__(self, state: RunnerState) -> None:
        self._base_url = state.host_url
        self._headers = local_auth_headers()

    def _call(self, method: str, path: str, what: str, body: object = None, timeout: float = 60.0) -> LocalAnswer:
        try:
            response = local_request(method, self._base_url + path, json=body, headers=self._headers, timeout=timeout)
        except LocalHTTPError as error:
            raise UserError(f"{what}: the runner did not answer: {error}") from None
        if response.status_code >= 400:
            raise UserError(f"{what}: {response.text.strip()}")
        return response

    def configure(
        self, model: str, context_size: int | None = None, runtime_flags: Sequence[str] = (), keep_alive: str | None = None,
        project: str | None = None, draft_model: str | None = None,
    ) -> None:  # fmt: skip
        """``POST /engines/_configure`` with Docker Model Runner's body; ``project``: the Compose project whose
        file these values come from (``ps`` says so)."""
        body: dict[str, object] = {"model": model, "runtime-flags": list(runtime_flags)}
        if context_size:
            body["context-size"] = context_size
        if keep_alive is not None:
            body["keep_alive"] = keep_alive
        if project:
            body["project"] = project
        if draft_model is not None:
            body["speculative"] = {"draft_model": draft_model}
        self._call("POST", "/engines/_configure", f"configure {model}", body)

    def configuration(self, model: str) -> dict[str, Any]:
        """``GET /engines/_configure?model=X``: its settings (``Config``), where each came from (``Sources``), and
        the Compose projects that keep it loaded (``PinnedBy``)."""
        entries = self._call("GET", f"/engines/_configure?{urlencode({'model': model})}", f"configuration of {model}")
        return cast(dict[str, Any], entries.json()[0])

    def reset(self, model: str) -> None:
        """Forget the model's configuration (saved too): it runs with the defaults."""
        self._call("POST", "/engines/_configure", f"configure {model}", {"model": model, "reset": True})

    def load(self, model: str, project: str | None = None) -> float:
        """Load ``model`` now, kept loaded while ``project`` is up; the seconds the load took."""
        body = {"model": model, **({"project": project} if project else {})}
        return float(self._call("POST", "/engines/_load", f"load {model}", body, timeout=600.0).json()["seconds"])

    def release(self, project: str) -> list[str]:
        """The Compose project is down: its models unload after their keep-alive."""
        return cast(list[str], self._call("POST", "/engines/_release", "release", {"project": project}).json()["released"])

    def running(self) -> list[dict[str, Any]]:
        return cast(list[dict[str, Any]], self._call("GET", "/engines/ps", "ps").json())

    def unload(self, models: list[str] | None) -> int:
        body = {"all": True} if models is None else {"models": models}
        return cast(int, self._call("POST", "/engines/unload", "unload", body).json()["unloaded_runners"])

    def preload(self, model: str) -> None:
        """Load a model now rather than on its next request (a one-token completion)."""
        body = {"model": model, "prompt": "Hello", "max_tokens": 1}
        self._call("POST", "/engines/v1/completions", f"load {model}", body, timeout=300.0)
