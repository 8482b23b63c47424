"""Calls from the CLI and the orchestrator to a running runner (plain HTTP on loopback: ``local_http``)."""

from collections.abc import Sequence
from typing import Any, cast

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
        self, model: str, context_size: int | None = None, runtime_flags: Sequence[str] = (), keep_alive: str | None = None
    ) -> None:
        """``POST /engines/_configure`` with Docker Model Runner's body."""
        body: dict[str, object] = {"model": model, "runtime-flags": list(runtime_flags)}
        if context_size:
            body["context-size"] = context_size
        if keep_alive is not None:
            body["keep_alive"] = keep_alive
        self._call("POST", "/engines/_configure", f"configure {model}", body)

    def running(self) -> list[dict[str, Any]]:
        return cast(list[dict[str, Any]], self._call("GET", "/engines/ps", "ps").json())

    def unload(self, models: list[str] | None) -> int:
        body = {"all": True} if models is None else {"models": models}
        return cast(int, self._call("POST", "/engines/unload", "unload", body).json()["unloaded_runners"])

    def preload(self, model: str) -> None:
        """Load a model now rather than on its next request (a one-token completion)."""
        body = {"model": model, "prompt": "Hello", "max_tokens": 1}
        self._call("POST", "/engines/v1/completions", f"load {model}", body, timeout=300.0)
