"""The context sizes a model may be configured with: at least 64 tokens, at most the context it was trained with.

llama.cpp would start an engine with any size, but one past the trained context answers badly, and
a huge one fails to load long after the configure that asked for it was accepted.
"""

from collections.abc import Mapping
from typing import Any

from compose_models.runner.errors import InvalidConfiguration

SMALLEST_CONTEXT = 64


def trained_context(gguf: Mapping[str, Any]) -> int | None:
    """The GGUF's ``<architecture>.context_length``; None when its metadata does not say."""
    text = str(gguf.get(f"{gguf.get('general.architecture')}.context_length", ""))
    return int(text) if text.isdigit() and int(text) > 0 else None


def check_context_size(size: int | None, trained: int | None, name: str) -> None:
    """InvalidConfiguration (a UserError) naming ``name`` unless ``size`` is unset or between SMALLEST_CONTEXT and ``trained``."""
    if size is None:
        return
    if size < SMALLEST_CONTEXT or (trained and size > trained):
        upper = f" and {trained} (the context the model was trained with)" if trained else ""
        raise InvalidConfiguration(f"{name}: {size} is out of range: use between {SMALLEST_CONTEXT}{upper}")
