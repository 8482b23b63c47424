"""Rewrite a validated OpenAI request into the subset every engine understands.

llama-cpp-python's server knows neither the ``developer`` role, content given as a list of parts,
``json_schema`` response formats nor ``max_completion_tokens``; its chat templates fail on
``content: null``. llama-server accepts all of these rewrites too. (A forced tool call is rewritten
once the request reaches its engine: see forced_tool_call.py.)
"""

from typing import Any


def chat_payload_for_engine(payload: dict[str, Any]) -> dict[str, Any]:
    adapted = {**_without_nulls(payload), "messages": [_message_for_engine(message) for message in payload["messages"]]}
    if adapted.get("tools"):
        adapted["tools"] = [_tool_for_engine(tool) for tool in adapted["tools"]]
    _rename_max_completion_tokens(adapted)
    if isinstance(adapted.get("response_format"), dict):
        adapted["response_format"] = _response_format_for_engine(adapted["response_format"])
    _drop_tools_when_none_may_be_called(adapted)
    _ask_for_stream_usage(adapted)
    return adapted


def completion_payload_for_engine(payload: dict[str, Any]) -> dict[str, Any]:
    adapted = _without_nulls(payload)
    if isinstance(adapted.get("prompt"), list):
        [adapted["prompt"]] = adapted["prompt"]
    _ask_for_stream_usage(adapted)
    return adapted


def _without_nulls(payload: dict[str, Any]) -> dict[str, Any]:
    """OpenAI reads ``null`` as "the default"; llama-cpp-python refuses it for most fields."""
    return {key: value for key, value in payload.items() if value is not None}


def _tool_for_engine(tool: dict[str, Any]) -> dict[str, Any]:
    """llama-server fails (500) on a ``null`` description or parameters, which OpenAI reads as absent."""
    return {**_without_nulls(tool), "function": _without_nulls(tool["function"])}


def _message_for_engine(message: dict[str, Any]) -> dict[str, Any]:
    adapted = _without_nulls(message)
    if adapted.get("role") == "developer":
        adapted["role"] = "system"
    if adapted.get("tool_calls"):
        adapted["tool_calls"] = [{**call, "type": "function"} for call in adapted["tool_calls"]]  # OpenAI's default
    content = adapted.get("content")
    if content is None:
        adapted["content"] = ""
    elif isinstance(content, list) and all(part.get("type") in ("text", "refusal") for part in content):
        adapted["content"] = "".join(part.get("text") or part.get("refusal") or "" for part in content)
    return adapted


def _rename_max_completion_tokens(payload: dict[str, Any]) -> None:
    limit = payload.pop("max_completion_tokens", None)
    if limit is not None and payload.get("max_tokens") is None:
        payload["max_tokens"] = limit


def _response_format_for_engine(response_format: dict[str, Any]) -> dict[str, Any]:
    if response_format.get("type") != "json_schema":
        return response_format
    schema = (response_format.get("json_schema") or {}).get("schema")
    return {"type": "json_object", **({"schema": schema} if schema is not None else {})}


def _drop_tools_when_none_may_be_called(payload: dict[str, Any]) -> None:
    if payload.get("tool_choice") == "none":
        payload.pop("tools", None)
        payload.pop("tool_choice", None)


def _ask_for_stream_usage(payload: dict[str, Any]) -> None:
    """Engines that can report usage in a stream should; the client's own choice is applied on the way out."""
    if payload.get("stream"):
        payload["stream_options"] = {**(payload.get("stream_options") or {}), "include_usage": True}


def uses_images(payload: dict[str, Any]) -> bool:
    """Whether a chat request carries image parts (which only a model with a projector can read)."""
    return any(
        isinstance(message.get("content"), list) and any(part.get("type") == "image_url" for part in message["content"])
        for message in payload.get("messages") or []
    )
