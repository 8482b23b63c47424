"""A continuous-batching engine on llama-cpp-python's low-level API: pip-installed, many requests at once.

Opt-in with ``COMPOSE_MODELS_LLAMA_BACKEND=batched``. The scheduler gives engines other than
llama-server one slot, so the slot count and CPU threads come from
``$COMPOSE_MODELS_BATCHED_SLOTS`` (default 4) and ``$COMPOSE_MODELS_BATCHED_THREADS`` (default:
every CPU). Each slot has ``context_size`` tokens of KV cache of its own.
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
            "--slots", os.environ.get(SLOTS_VARIABLE, str(DEFAULT_SLOTS)),
        ]  # fmt: skip
        threads = os.environ.get(THREADS_VARIABLE)
        if threads:
            argv += ["--threads", threads]
        if spec.embedding:
            argv.append("--embedding")
        elif spec.chat_template_path:
            argv += ["--chat-template-file", str(spec.chat_template_path)]
        return argv

    def environment(self) -> dict[str, str]:
        return {**os.environ, KEY_VARIABLE: self.api_key}
