"""Calls from the CLI and the orchestrator to a running runner."""

import httpx

from compose_models.errors import UserError
from compose_models.runner.control.local_http import local_client
from compose_models.runner.control.local_key import local_auth_headers
from compose_models.runner.control.state import RunnerState


class RunnerClient:
    def __init__(self, state: RunnerState) -> None:
        self._http = local_client(
            base_url=state.host_url, headers=local_auth_headers(), timeout=httpx.Timeout(60.0, connect=5.0)
        )

    def _check(self, response: httpx.Response, what: str) -> httpx.Response:
        if response.status_code >= 400:
            raise UserError(f"{what}: {response.text.strip()}")
        return response

    def configure(
        self, model: str, context_size: int | None = None, runtime_flags: list[str] = (), keep_alive: str | None = None,
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
        self._check(self._http.post("/engines/_configure", json=body), f"configure {model}")

    def configuration(self, model: str) -> dict:
        """``GET /engines/_configure?model=X``: its settings (``Config``), where each came from (``Sources``), and
        the Compose projects that keep it loaded (``PinnedBy``)."""
        entries = self._check(self._http.get("/engines/_configure", params={"model": model}), f"configuration of {model}")
        return entries.json()[0]

    def reset(self, model: str) -> None:
        """Forget the model's configuration (saved too): it runs with the defaults."""
        self._check(self._http.post("/engines/_configure", json={"model": model, "reset": True}), f"configure {model}")

    def load(self, model: str, project: str | None = None) -> float:
        """Load ``model`` now, kept loaded while ``project`` is up; the seconds the load took."""
        body = {"model": model, **({"project": project} if project else {})}
        response = self._http.post("/engines/_load", json=body, timeout=httpx.Timeout(600.0, connect=5.0))
        return float(self._check(response, f"load {model}").json()["seconds"])

    def release(self, project: str) -> list[str]:
        """The Compose project is down: its models unload after their keep-alive."""
        return self._check(self._http.post("/engines/_release", json={"project": project}), "release").json()["released"]

    def running(self) -> list[dict]:
        return self._check(self._http.get("/engines/ps"), "ps").json()

    def unload(self, models: list[str] | None) -> int:
        body = {"all": True} if models is None else {"models": models}
        return self._check(self._http.post("/engines/unload", json=body), "unload").json()["unloaded_runners"]

    def preload(self, model: str) -> None:
        """Load a model now rather than on its next request (a one-token completion)."""
        body = {"model": model, "prompt": "Hello", "max_tokens": 1}
        self._check(self._http.post("/engines/v1/completions", json=body, timeout=300.0), f"load {model}")
