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
        draft_model: str | None = None,
    ) -> None:
        """``POST /engines/_configure`` with Docker Model Runner's body."""
        body: dict[str, object] = {"model": model, "runtime-flags": list(runtime_flags)}
        if context_size:
            body["context-size"] = context_size
        if keep_alive is not None:
            body["keep_alive"] = keep_alive
        if draft_model is not None:
            body["speculative"] = {"draft_model": draft_model}
        self._check(self._http.post("/engines/_configure", json=body), f"configure {model}")

    def running(self) -> list[dict]:
        return self._check(self._http.get("/engines/ps"), "ps").json()

    def unload(self, models: list[str] | None) -> int:
        body = {"all": True} if models is None else {"models": models}
        return self._check(self._http.post("/engines/unload", json=body), "unload").json()["unloaded_runners"]

    def preload(self, model: str) -> None:
        """Load a model now rather than on its next request (a one-token completion)."""
        body = {"model": model, "prompt": "Hello", "max_tokens": 1}
        self._check(self._http.post("/engines/v1/completions", json=body, timeout=300.0), f"load {model}")
