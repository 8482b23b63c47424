"""Ollama chat and generate requests as OpenAI requests, and OpenAI stream chunks as Ollama's NDJSON
objects (``done: false`` pieces, then one ``done: true`` object with counts and durations).

Also here: a created model's stored defaults applied to its requests, and Ollama's model parameters
(checked, and written back as Ollama shows them).
"""

import json
import math
import time
from typing import Any, TypeVar

import pydantic

from compose_models.runner.api.ollama.schema import ChatMessage, ChatRequest, GenerateRequest, Generation, Options
from compose_models.runner.http.body import as_payload
from compose_models.runner.http.errors import ApiError
from compose_models.runner.inference.engine_call import CHAT_PATH, EngineCall
from compose_models.store.create import stored_settings
from compose_models.store.model import StoredModel
from compose_models.units import rfc3339_nano

_SAMPLING = ("temperature", "top_p", "top_k", "min_p", "seed", "repeat_penalty", "presence_penalty", "frequency_penalty")
_DONE_REASONS = {"stop": "stop", "length": "length", "tool_calls": "stop"}


def sampling_fields(request: Generation) -> dict[str, Any]:
    """``options`` and ``format`` as OpenAI request fields."""
    options = request.options or Options()
    fields = {name: getattr(options, name) for name in _SAMPLING if getattr(options, name) is not None}
    if options.stop:
        fields["stop"] = options.stop
    if options.num_predict is not None and options.num_predict >= 0:  # -1 (endless) and -2 (fill the context)
        fields["max_tokens"] = options.num_predict
    if request.format == "json":
        fields["response_format"] = {"type": "json_object"}
    elif isinstance(request.format, dict):
        fields["response_format"] = {"type": "json_object", "schema": request.format}
    return fields


def chat_payload(request: ChatRequest) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    call_ids: list[str] = []
    for message in request.messages:
        messages.append(_chat_message(message, call_ids, len(messages)))
    payload = {"model": request.model, "messages": messages, "stream": True, **sampling_fields(request)}
    if request.tools:
        payload["tools"] = [as_payload(tool) for tool in request.tools]
    return payload


def _chat_message(message: ChatMessage, call_ids: list[str], position: int) -> dict[str, Any]:
    content: str | list[dict[str, Any]] = message.content
    if message.images:
        content = [{"type": "text", "text": message.content}] + [_image_part(image) for image in message.images]
    converted: dict[str, Any] = {"role": message.role, "content": content}
    if message.tool_calls:
        ids = [f"call_{position}_{index}" for index in range(len(message.tool_calls))]
        call_ids[:] = ids
        converted["tool_calls"] = [
            {"id": call_id, "type": "function",
             "function": {"name": call.function.name, "arguments": json.dumps(call.function.arguments)}}
            for call_id, call in zip(ids, message.tool_calls)
        ]
    if message.role == "tool":
        converted["tool_call_id"] = call_ids.pop(0) if call_ids else f"call_{position}"
    return converted


def _image_part(image: str) -> dict[str, Any]:
    """Ollama sends bare base64; OpenAI wants a data URI with the right media type."""
    if ":" in image[:16]:
        return {"type": "image_url", "image_url": {"url": image}}
    media = {"/9j/": "jpeg", "iVBO": "png", "R0lG": "gif"}.get(image[:4], "jpeg")
    return {"type": "image_url", "image_url": {"url": f"data:image/{media};base64,{image}"}}


def generate_payload(request: GenerateRequest) -> tuple[str, dict[str, Any]]:
    """The engine path and payload: raw prompts go to completions, others become one chat turn."""
    fields = {"model": request.model, "stream": True, **sampling_fields(request)}
    if request.raw:
        return "/v1/completions", {**fields, "prompt": request.prompt}
    messages = [{"role": "system", "content": request.system}] if request.system else []
    user = ChatMessage(role="user", content=request.prompt, images=request.images)
    return CHAT_PATH, {**fields, "messages": messages + [_chat_message(user, [], len(messages))]}


class OllamaStream:
    """Turns the engine's chunks into Ollama objects for ``/api/chat`` (``message``) or ``/api/generate``
    (``response``); tool calls are given whole, as Ollama does, once their arguments are complete."""

    def __init__(self, model: str, chat: bool) -> None:
        self.model = model
        self.chat = chat
        self.text: list[str] = []
        self._tool_calls: dict[int, dict[str, str]] = {}
        self._finish_reason = "stop"

    def feed(self, chunk: dict[str, Any]) -> dict[str, Any] | None:
        text = ""
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            text += delta.get("content") or choice.get("text") or ""
            for call in delta.get("tool_calls") or []:
                slot = self._tool_calls.setdefault(call.get("index", 0), {"name": "", "arguments": ""})
                function = call.get("function") or {}
                slot["name"] = slot["name"] or function.get("name") or ""
                slot["arguments"] += function.get("arguments") or ""
            self._finish_reason = choice.get("finish_reason") or self._finish_reason
        if not text:
            return None
        self.text.append(text)
        return self._piece(text, done=False)

    async def final(self, call: EngineCall, whole: bool) -> dict[str, Any]:
        """The ``done: true`` object; with ``whole``, it carries all the text (``stream: false``)."""
        piece = self._piece("".join(self.text) if whole else "", done=True)
        if self.chat and self._tool_calls:
            piece["message"]["tool_calls"] = self.tool_calls()
        return {**piece, "done_reason": _DONE_REASONS.get(self._finish_reason, "stop"), **await _statistics(call)}

    def tool_calls(self) -> list[dict[str, Any]]:
        """The calls so far, Ollama's way: whole, with arguments as an object."""
        return [
            {"function": {"name": tool["name"], "arguments": _arguments(tool["arguments"])}}
            for _, tool in sorted(self._tool_calls.items())
        ]

    def _piece(self, text: str, done: bool) -> dict[str, Any]:
        body = {"message": {"role": "assistant", "content": text}} if self.chat else {"response": text}
        return {"model": self.model, "created_at": rfc3339_nano(), **body, "done": done}


def _arguments(text: str) -> dict[str, Any]:
    try:
        arguments = json.loads(text or "{}")
    except (ValueError, RecursionError):  # the model's JSON, as deep as it wrote it
        return {}
    return arguments if isinstance(arguments, dict) else {}


async def _statistics(call: EngineCall) -> dict[str, int]:
    now, timings = time.monotonic(), call.timings
    first_token = timings.first_token or now
    return {
        "total_duration": nanoseconds(now - timings.started),
        "load_duration": nanoseconds(timings.engine_ready - timings.started),
        "prompt_eval_count": await call.prompt_tokens(),
        "prompt_eval_duration": nanoseconds(first_token - timings.engine_ready),
        "eval_count": call.usage.completion,
        "eval_duration": nanoseconds(now - first_token),
    }


def nanoseconds(seconds: float) -> int:
    """Ollama reports durations in nanoseconds."""
    return int(seconds * 1e9)


# --- defaults ---
# What ``/api/create`` stored with a model, applied to its Ollama requests as Ollama does: the system
# prompt unless the conversation starts with its own, the stored messages before the conversation, and
# the stored parameters as defaults of ``options`` (the request's own options win).


Request = TypeVar("Request", ChatRequest, GenerateRequest)


def with_model_defaults(model: StoredModel | None, request: Request) -> Request:
    settings = stored_settings(model) if model is not None else {}
    if not settings:
        return request
    update: dict[str, Any] = {"options": _options(request.options, settings.get("parameters") or {})}
    system = settings.get("system")
    if isinstance(request, GenerateRequest):
        if request.system is None and system:
            update["system"] = system
        return request.model_copy(update=update)
    head = [ChatMessage.model_validate(message) for message in settings.get("messages") or []]
    if system and not (request.messages and request.messages[0].role == "system"):
        head.insert(0, ChatMessage(role="system", content=system))
    update["messages"] = head + list(request.messages)
    return request.model_copy(update=update)


def _options(options: Options | None, defaults: dict[str, Any]) -> Options | None:
    if not defaults:
        return options
    given = options.model_dump(exclude_unset=True) if options is not None else {}
    try:
        return Options.model_validate({**defaults, **given})
    except pydantic.ValidationError:  # checked when the model was created; a hand-edited config is skipped
        return options


# --- parameters ---
# Ollama's model parameters (``PARAMETER`` lines, ``parameters`` of ``/api/create``): their names and
# types, checked; and written back as ``/api/show`` and ``ollama show --parameters`` print them.
#
# ``num_ctx`` becomes the artifact's context size (so every API gets it); the others are stored with
# the model and are the defaults of its Ollama requests' ``options``.


_INTEGER, _NUMBER, _BOOLEAN, _STRINGS = "an integer", "a number", "true or false", "a string or a list of strings"
TYPES = {
    "num_ctx": _INTEGER, "num_batch": _INTEGER, "num_gpu": _INTEGER, "main_gpu": _INTEGER, "num_thread": _INTEGER,
    "num_keep": _INTEGER, "seed": _INTEGER, "num_predict": _INTEGER, "top_k": _INTEGER, "repeat_last_n": _INTEGER,
    "mirostat": _INTEGER, "top_p": _NUMBER, "min_p": _NUMBER, "typical_p": _NUMBER, "temperature": _NUMBER,
    "repeat_penalty": _NUMBER, "presence_penalty": _NUMBER, "frequency_penalty": _NUMBER, "mirostat_tau": _NUMBER,
    "mirostat_eta": _NUMBER, "tfs_z": _NUMBER, "numa": _BOOLEAN, "low_vram": _BOOLEAN, "vocab_only": _BOOLEAN,
    "use_mmap": _BOOLEAN, "use_mlock": _BOOLEAN, "penalize_newline": _BOOLEAN, "stop": _STRINGS,
}  # fmt: skip


def checked_parameters(given: dict[str, Any], where: str) -> dict[str, Any]:
    """``given`` with each value of its parameter's type (Modelfile text converted), sorted by name;
    a 400 naming ``where`` and the parameter for an unknown name or a value of the wrong type."""
    checked = {}
    for name, value in given.items():
        expected = TYPES.get(name)
        if expected is None:
            raise ApiError(400, f"{where}: unknown parameter {name!r}: expected one of {', '.join(sorted(TYPES))}")
        converted = _converted(value, expected)
        if converted is None:
            raise ApiError(400, f"{where}: parameter {name!r} must be {expected}, got {value!r}")
        checked[name] = converted
    return dict(sorted(checked.items()))


def _converted(value: Any, expected: str) -> Any:
    if expected == _STRINGS:
        values = [value] if isinstance(value, str) else value
        return list(values) if isinstance(values, list) and all(isinstance(v, str) for v in values) else None
    if isinstance(value, str):
        value = _parsed_text(value.strip(), expected)
    if expected == _BOOLEAN:
        return value if isinstance(value, bool) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if expected == _INTEGER:
        return int(value) if float(value).is_integer() else None
    return float(value) if math.isfinite(value) else None


def _parsed_text(text: str, expected: str) -> Any:
    if expected == _BOOLEAN:
        return {"true": True, "false": False}.get(text.lower())
    try:
        return int(text) if expected == _INTEGER else float(text)
    except ValueError:
        return None


def parameters_text(parameters: dict[str, Any]) -> str:
    """One ``name value`` line per value, stop strings quoted, as Ollama shows them."""
    lines = []
    for name, value in parameters.items():
        for item in value if isinstance(value, list) else [value]:
            shown = f'"{item}"' if isinstance(item, str) else str(item).lower() if isinstance(item, bool) else item
            lines.append(f"{name:<30} {shown}")
    return "\n".join(lines)
