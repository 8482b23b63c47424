"""A continuous-batching engine on llama-cpp-python's low-level API: pip-installed, many requests at once.

The default engine for GGUF models when llama-server is not installed (``backends/catalog.py``). Its
slots are the model's ``--parallel`` runtime flag, else ``$COMPOSE_MODELS_BATCHED_SLOTS`` (default 4);
its CPU threads the ``--threads`` flag, else ``$COMPOSE_MODELS_BATCHED_THREADS`` (default: half the CPUs,
as llama-cpp-python's server).
Each slot has ``context_size`` tokens of KV cache of its own, so the engine's cache is ``slots`` times
one sequence's (the scheduler's memory estimate counts them all).
"""

import os
import sys

from compose_models.runner.backends.process import ProcessEngine

KEY_VARIABLE = "COMPOSE_MODELS_ENGINE_KEY"  # the bearer key the engine's server wants

NAME = "batched"
SLOTS_VARIABLE = "COMPOSE_MODELS_BATCHED_SLOTS"
THREADS_VARIABLE = "COMPOSE_MODELS_BATCHED_THREADS"
DEFAULT_SLOTS = 4


class BatchedEngine(ProcessEngine):
    def command(self) -> list[str]:
        spec = self.spec
        argv = [
            sys.executable, "-m", "compose_models.runner.backends.batched.server",
            "--model", str(spec.model_path),
            "--alias", spec.alias,
            "--port", str(self.port),
            "--context-size", str(spec.context_size),
            "--slots", str(spec.parallel or default_slots()),
        ]  # fmt: skip
        threads = os.environ.get(THREADS_VARIABLE)
        if threads:
            argv += ["--threads", threads]
        if spec.embedding:
            argv.append("--embedding")
        elif spec.chat_template_path:
            argv += ["--chat-template-file", str(spec.chat_template_path)]
        return argv + list(spec.arguments)  # later settings win in argparse

    def environment(self) -> dict[str, str]:
        return {**os.environ, KEY_VARIABLE: self.api_key}


def default_slots() -> int:
    """``$COMPOSE_MODELS_BATCHED_SLOTS`` when it is a whole number from 1 to 64, else 4."""
    text = os.environ.get(SLOTS_VARIABLE, "").strip()
    return int(text) if text.isdigit() and 1 <= int(text) <= 64 else DEFAULT_SLOTS
