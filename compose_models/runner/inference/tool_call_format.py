"""Which tool-call format a model writes, read from its chat template.

A chat template that renders tools also shows the model how to call them, with markers of its own;
the markers below are those llama.cpp's common/chat.cpp recognises. Engines other than llama-server
hand the model's call back as text, so the runner finds it there (see tool_call_parser.py).
"""

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

OBJECT = "object"  # each opener is followed by one {"name": ..., "arguments": {...}}
ARRAY = "array"  # the opener is followed by a list of such objects
NAMED = "named"  # the opener is followed by the function's name, ARGUMENTS_MARKER, then its arguments


@dataclass(frozen=True)
class ToolCallFormat:
    name: str
    openers: tuple[str, ...]  # text that begins a call (or the list of calls)
    body: str  # OBJECT, ARRAY or NAMED
    closer: str | None = None  # text that ends it, when the format has one
    # The answer may also begin with the call's JSON itself, without a marker: Llama 3.x writes it so, and
    # llama-cpp-python and the batched engine render special tokens ([TOOL_CALLS], <|python_tag|>) as nothing.
    bare_opening: str = ""


ARGUMENTS_MARKER = "[ARGS]"

HERMES = ToolCallFormat("hermes", ("<tool_call>",), OBJECT, "</tool_call>")
LLAMA3_JSON = ToolCallFormat("llama3-json", ("<|python_tag|>",), OBJECT, bare_opening="{")
MISTRAL = ToolCallFormat("mistral", ("[TOOL_CALLS]",), ARRAY, bare_opening="[")
MISTRAL_NAMED = ToolCallFormat("mistral-named", ("[TOOL_CALLS]",), NAMED)
GRANITE = ToolCallFormat("granite", ("<|tool_call|>",), ARRAY, bare_opening="[")
PHI4 = ToolCallFormat("phi-4", ("<|tool_call|>",), ARRAY, "<|/tool_call|>", bare_opening="[")
NEMOTRON = ToolCallFormat("nemotron", ("<TOOLCALL>",), ARRAY, "</TOOLCALL>")


def tool_call_format(template: str) -> ToolCallFormat | None:
    """The format ``template`` teaches the model; None for a template without tools or one not known."""
    if "[TOOL_CALLS]" in template:
        return MISTRAL_NAMED if ARGUMENTS_MARKER in template else MISTRAL
    if "<TOOLCALL>" in template:
        return NEMOTRON
    if "<|tool_call|>" in template:
        return PHI4 if "<|/tool_call|>" in template else GRANITE
    if "<tool_call>" in template and "<function=" not in template:  # Qwen3-Coder's XML calls are not parsed
        return HERMES
    if "<|start_header_id|>" in template and ("<|python_tag|>" in template or '"parameters"' in template):
        return LLAMA3_JSON
    return None


def chat_template_of(model: Any) -> str:
    """The template a model's engine renders: the one packaged beside the weights, else the GGUF's own."""
    path: Path | None = getattr(model, "chat_template_path", None)
    if path is not None:
        try:
            return _template_text(path)
        except OSError:
            pass
    gguf = (getattr(model, "config", None) or {}).get("gguf") or {}
    return str(gguf.get("tokenizer.chat_template") or "")


@lru_cache(maxsize=32)
def _template_text(path: Path) -> str:
    """A chat-template blob, read once: the store is content-addressed, so its text never changes (and the
    answer to every request that offers tools would otherwise read it from disk again)."""
    return path.read_text(errors="replace")
