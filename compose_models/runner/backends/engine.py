"""The seam between the scheduler and an inference engine.

An engine is anything that serves OpenAI's API at ``base_url`` for one model: a llama-cpp-python
process, a llama-server process, an MLX process today; a continuous-batching engine later. The
scheduler only starts, watches and stops engines; the HTTP front proxies to ``base_url``, with
``Authorization: Bearer <api_key>``: each engine has a random key that only the runner knows, so
nothing else on the machine reaches it past the runner's keys, limits and request log.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class EngineSpec:
    """Everything that decides how an engine is started; equal specs share one engine.

    ``context_size`` is the KV cache's length in tokens, which one request may fill alone; an
    engine with ``parallel`` request slots shares it among them (None: the backend's default).
    ``arguments`` are backend-specific, already checked against that backend's allow-list.
    """

    backend: str
    model_path: Path
    alias: str
    context_size: int
    parallel: int | None = None
    embedding: bool = False
    reranking: bool = False  # llama-server's /rerank (an embedding engine of a model that pools by rank)
    arguments: tuple[str, ...] = ()
    chat_template_path: Path | None = None
    mmproj_path: Path | None = None
    draft_model_path: Path | None = None  # a store model's GGUF that drafts tokens (speculative decoding)


class Engine(Protocol):
    spec: EngineSpec
    api_key: str  # the engine's own key, never on its command line

    @property
    def auth_headers(self) -> dict[str, str]:
        """What every request to the engine carries: its key."""
        ...

    @property
    def base_url(self) -> str:
        """Where the engine answers OpenAI's API (``/v1/chat/completions`` and so on)."""
        ...

    async def start(self, timeout: float) -> None:
        """Start and return once ready; EngineError if it exits or is not ready within ``timeout``."""
        ...

    async def stop(self) -> None:
        """Stop for good, releasing every resource; safe to call twice."""
        ...

    def is_running(self) -> bool: ...

    async def crashed(self, within: float = 0.0) -> str | None:
        """Once the engine has died on its own (waiting up to ``within`` seconds for it to be seen dead):
        what it died of (signal name or exit status) and its log's last lines. None while it runs or once stopped."""
        ...

    def log_tail(self) -> str: ...
