"""Rewrite a validated OpenAI request into the subset every engine understands.

llama-cpp-python's server knows neither the ``developer`` role, content given as a list of parts,
``json_schema`` response formats nor ``max_completion_tokens``; its chat templates fail on
``content: null``. llama-server accepts all of these rewrites too. (A forced tool call is rewritten
once the request reaches its engine: see forced_tool_call.py.)
"""

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def chat_payload_for_engine(payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` rewritten for engines; ``payload`` itself when nothing in it needs a change (each step
    returns what it was given when it changes nothing), so the client's own bytes can go on as they are."""
    adapted = _replaced(_without_nulls(payload), "messages", _each(_message_for_engine, payload["messages"]))
    if adapted.get("tools"):
        adapted = _replaced(adapted, "tools", _each(_tool_for_engine, adapted["tools"]))
    adapted = _max_completion_tokens_renamed(adapted)
    if isinstance(adapted.get("response_format"), dict):
        adapted = _replaced(adapted, "response_format", _response_format_for_engine(adapted["response_format"]))
    adapted = _without_tools_when_none_may_be_called(adapted)
    return _asking_for_stream_usage(adapted)


def completion_payload_for_engine(payload: dict[str, Any]) -> dict[str, Any]:
    """As ``chat_payload_for_engine``, for a text completion: ``payload`` itself when it needs no change."""
    adapted = _without_nulls(payload)
    if isinstance(adapted.get("prompt"), list):
        [prompt] = adapted["prompt"]
        adapted = {**adapted, "prompt": prompt}
    return _asking_for_stream_usage(adapted)


def _replaced(payload: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """``payload`` with ``key`` set to ``value``: a copy, or ``payload`` itself when it already holds ``value``."""
    return payload if payload.get(key) is value else {**payload, key: value}


def _each(adapt: Callable[[T], T], items: list[T]) -> list[T]:
    """``adapt`` applied to each item: a new list, or ``items`` itself when ``adapt`` changed none."""
    adapted = [adapt(item) for item in items]
    return items if all(new is old for new, old in zip(adapted, items, strict=True)) else adapted


def _without_nulls(payload: dict[str, Any]) -> dict[str, Any]:
    """OpenAI reads ``null`` as "the default"; llama-cpp-python refuses it for most fields."""
    if all(value is not None for value in payload.values()):
        return payload
    return {key: value for key, value in payload.items() if value is not None}


def _tool_for_engine(tool: dict[str, Any]) -> dict[str, Any]:
    """llama-server fails (500) on a ``null`` description or parameters, which OpenAI reads as absent."""
    return _replaced(_without_nulls(tool), "function", _without_nulls(tool["function"]))


def _message_for_engine(message: dict[str, Any]) -> dict[str, Any]:
    adapted = _without_nulls(message)
    if adapted.get("role") == "developer":
        adapted = {**adapted, "role": "system"}
    if adapted.get("tool_calls"):
        adapted = _replaced(adapted, "tool_calls", _each(_typed_call, adapted["tool_calls"]))
    content = adapted.get("content")
    if content is None:
        adapted = {**adapted, "content": ""}
    elif isinstance(content, list) and all(part.get("type") in ("text", "refusal") for part in content):
        adapted = {**adapted, "content": "".join(part.get("text") or part.get("refusal") or "" for part in content)}
    return adapted


def _typed_call(call: dict[str, Any]) -> dict[str, Any]:
    return call if call.get("type") == "function" else {**call, "type": "function"}  # OpenAI's default


def _max_completion_tokens_renamed(payload: dict[str, Any]) -> dict[str, Any]:
    if "max_completion_tokens" not in payload:
        return payload
    adapted = {key: value for key, value in payload.items() if key != "max_completion_tokens"}
    limit = payload["max_completion_tokens"]
    if limit is not None and adapted.get("max_tokens") is None:
        adapted["max_tokens"] = limit
    return adapted


def _response_format_for_engine(response_format: dict[str, Any]) -> dict[str, Any]:
    if response_format.get("type") != "json_schema":
        return response_format
    schema = (response_format.get("json_schema") or {}).get("schema")
    return {"type": "json_object", **({"schema": schema} if schema is not None else {})}


def _without_tools_when_none_may_be_called(payload: dict[str, Any]) -> dict[str, Any]:
    if payload.get("tool_choice") != "none":
        return payload
    return {key: value for key, value in payload.items() if key not in ("tools", "tool_choice")}


def _asking_for_stream_usage(payload: dict[str, Any]) -> dict[str, Any]:
    """Engines that can report usage in a stream should; the client's own choice is applied on the way out."""
    options = payload.get("stream_options")
    if not payload.get("stream") or (isinstance(options, dict) and options.get("include_usage") is True):
        return payload
    return {**payload, "stream_options": {**(options or {}), "include_usage": True}}


def uses_images(payload: dict[str, Any]) -> bool:
    """Whether a chat request carries image parts (which only a model with a projector can read)."""
    return any(
        isinstance(message.get("content"), list) and any(part.get("type") == "image_url" for part in message["content"])
        for message in payload.get("messages") or []
    )
