"""``catalog validate``: prove that a published model pulls into a clean machine and answers.

Steps, each timed: ``pull`` into a fresh temporary store (its own ``COMPOSE_MODELS_HOME``),
``load`` on a runner started there on a free port (a one-token completion), and ``prompt``: a
smoke prompt through the OpenAI endpoint. The first step that fails is named in the report; the
runner and the temporary store are gone afterwards either way.
"""

import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from compose_models.errors import UserError
from compose_models.runner.control.daemon import running_runner, stop_runner
from compose_models.runner.control.local_http import local_client
from compose_models.runner.control.state import RunnerState
from compose_models.store import ModelStore, StoredModel, media_types, normalize_reference
from compose_models.store.memory_estimate import DEFAULT_CONTEXT_SIZE, MemoryEstimate, estimate
from compose_models.store.pull import pull_model
from compose_models.store.transfer_progress import SILENT, Transfers
from compose_models.units import gguf_size

DEFAULT_PROMPT = "What is the capital of France? Answer in one short sentence."
DEFAULT_MAX_TOKENS = 16
HOME_VARIABLE = "COMPOSE_MODELS_HOME"
_REQUEST_TIMEOUT = 300.0
_NOT_LOADED = (media_types.LICENSE, media_types.CHAT_TEMPLATE)
T = TypeVar("T")


class StepFailed(Exception):
    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step = step


@dataclass
class ValidationReport:
    reference: str
    failed_step: str | None = None
    error: str | None = None
    pull_seconds: float | None = None
    load_seconds: float | None = None
    prompt_seconds: float | None = None
    completion_tokens: int | None = None
    memory: MemoryEstimate | None = None
    answer: str | None = None

    @property
    def passed(self) -> bool:
        return self.failed_step is None

    @property
    def tokens_per_second(self) -> float | None:
        if not self.completion_tokens or not self.prompt_seconds:
            return None
        return self.completion_tokens / self.prompt_seconds

    def to_text(self) -> str:
        verdict = "passed" if self.passed else f"FAILED at the {self.failed_step} step"
        lines = [f"validate {self.reference}: {verdict}"]
        for step, seconds in (("pull", self.pull_seconds), ("load", self.load_seconds)):
            if seconds is not None:
                lines.append(f"  {step:<8} {seconds:.2f} s")
        if self.tokens_per_second is not None:
            tokens = f"{self.completion_tokens} tokens in {self.prompt_seconds:.2f} s"
            lines.append(f"  {'prompt':<8} {tokens} ({self.tokens_per_second:.1f} tokens/s)")
        if self.memory is not None:
            lines.append(f"  {'memory':<8} {_describe_footprint(self.memory)}")
        if self.answer is not None:
            lines.append(f"  {'answer':<8} {self.answer.strip()}")
        if self.failed_step is not None:
            lines.append(f"  {self.failed_step:<8} {self.error}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "passed": self.passed,
            "failed_step": self.failed_step,
            "error": self.error,
            "pull_seconds": self.pull_seconds,
            "load_seconds": self.load_seconds,
            "prompt_seconds": self.prompt_seconds,
            "completion_tokens": self.completion_tokens,
            "tokens_per_second": self.tokens_per_second,
            "memory_estimate": _footprint_json(self.memory) if self.memory else None,
            "answer": self.answer,
        }


# The report shows the model's own footprint, weights + KV cache; the runner budgets a compute allowance on top.
def _footprint(memory: MemoryEstimate) -> int:
    return memory.weights + (memory.kv_cache or 0)


def _describe_footprint(memory: MemoryEstimate) -> str:
    kv_cache = "unknown KV cache" if memory.kv_cache is None else f"KV cache {gguf_size(memory.kv_cache)}"
    return (
        f"~{gguf_size(_footprint(memory))} (weights {gguf_size(memory.weights)} + {kv_cache} "
        f"for {memory.context_size} tokens of context)"
    )


def _footprint_json(memory: MemoryEstimate) -> dict[str, int | None]:
    return {
        "total": _footprint(memory), "weights": memory.weights, "kv_cache": memory.kv_cache,
        "context_size": memory.context_size,
    }  # fmt: skip


def estimate_memory(model: StoredModel) -> MemoryEstimate:
    """The scheduler's estimate at the context size the runner would load the model with."""
    weights = sum(layer.size for layer in model.layers if layer.media_type not in _NOT_LOADED)
    return estimate(weights, model.config.get("gguf") or {}, model.context_size or DEFAULT_CONTEXT_SIZE)


def validate(
    reference: str,
    insecure: bool = False,
    prompt: str = DEFAULT_PROMPT,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    transfers: Transfers = SILENT,
) -> ValidationReport:
    report = ValidationReport(normalize_reference(reference))
    with _temporary_home():
        try:
            store = ModelStore.default()
            pulled, report.pull_seconds = _timed("pull", pull_model, store, reference, insecure, transfers)
            model = pulled.model
            report.memory = estimate_memory(model)
            _require_backend(model, report.reference)
            _load_and_prompt(model, prompt, max_tokens, report)
        except StepFailed as failure:
            report.failed_step, report.error = failure.step, str(failure)
    return report


def _load_and_prompt(model: StoredModel, prompt: str, max_tokens: int, report: ValidationReport) -> None:
    """Start a runner in the temporary home, load the model on it and send the smoke prompt."""
    name = model.tags[0] if model.tags else model.id
    state, _ = _timed("load", _start_runner)
    try:
        with local_client(base_url=f"{state.host_url}/engines/v1", timeout=_REQUEST_TIMEOUT) as http:
            _, report.load_seconds = _timed("load", _load, http, name)
            reply, report.prompt_seconds = _timed("prompt", _chat, http, name, prompt, max_tokens)
    finally:
        stop_runner()
    try:
        report.answer = str(reply["choices"][0]["message"].get("content") or "")
        report.completion_tokens = int((reply.get("usage") or {}).get("completion_tokens") or 0)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        raise StepFailed("prompt", f"the runner's answer is not an OpenAI chat completion: {reply!r:.200}") from None
    if not report.completion_tokens or not report.answer.strip():
        raise StepFailed("prompt", "the model answered with no text")


def _timed(step: str, action: Callable[..., T], *arguments: Any) -> tuple[T, float]:
    """Run one step; any UserError becomes that step's failure."""
    start = time.monotonic()
    try:
        result = action(*arguments)
    except UserError as error:
        raise StepFailed(step, str(error)) from error
    return result, round(time.monotonic() - start, 3)


def _start_runner() -> RunnerState:
    """A runner in the temporary home, on loopback only.

    Started through ``serve --detach`` so that it is not our child: ``stop_runner`` waits for the
    pid to disappear, which a child of ours would not do until we reaped it.
    """
    # -P: not a compose_models in the current folder (a cloned catalog's repository).
    command = [sys.executable, "-P", "-m", "compose_models", "serve", "--detach", "--host", "127.0.0.1"]
    started = subprocess.run([*command, "--port", str(_free_port())], capture_output=True, text=True)
    state = running_runner()
    if started.returncode != 0 or state is None:
        reason = (started.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(f"the runner did not start: {reason}")
    return state


def _require_backend(model: StoredModel, reference: str) -> None:
    if model.config.get("format") != "safetensors":
        return
    if sys.platform != "darwin" or platform.machine() != "arm64":
        raise StepFailed(
            "load",
            f"{reference} is an MLX (safetensors) model, which is validated only on macOS with Apple silicon: "
            f"MLX is not available on this platform ({sys.platform} {platform.machine()})",
        )


def _load(http: httpx.Client, model: str) -> dict[str, Any]:
    try:
        return _post(http, "completions", {"model": model, "prompt": "Hello", "max_tokens": 1})
    except UserError as error:
        raise UserError(f"the runner could not load {model}: {error}") from error


def _chat(http: httpx.Client, model: str, prompt: str, max_tokens: int) -> dict[str, Any]:
    messages = [{"role": "user", "content": prompt}]
    body = {"model": model, "messages": messages, "max_tokens": max_tokens, "temperature": 0}
    return _post(http, "chat/completions", body)


def _post(http: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        response = http.post(path, json=body)
    except httpx.HTTPError as error:
        raise UserError(f"no answer from the runner: {error or type(error).__name__}") from error
    if response.status_code >= 400:
        raise UserError(f"HTTP {response.status_code}: {_error_summary(response)}")
    return response.json()


def _error_summary(response: httpx.Response) -> str:
    """The error's message; of an engine's traceback (lines joined by `` | ``), only its last line."""
    try:
        message = str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        message = response.text.strip()
    return message.rsplit(" | ", 1)[-1].strip()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def _temporary_home() -> Iterator[None]:
    """A fresh ``COMPOSE_MODELS_HOME`` (store and runner state) for this process and its children."""
    previous = os.environ.get(HOME_VARIABLE)
    with tempfile.TemporaryDirectory(prefix="compose-models-validate-") as home:
        os.environ[HOME_VARIABLE] = home
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop(HOME_VARIABLE, None)
            else:
                os.environ[HOME_VARIABLE] = previous
