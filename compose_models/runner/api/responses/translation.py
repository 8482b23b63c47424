"""Responses requests as OpenAI chat requests (what the engines speak).

A request's ``input`` becomes items in one canonical form (each with an id, message content as a
list of parts), which is also how they are stored and listed. The form keeps only what the engine is
shown: no ``reasoning`` items and none of the fields beyond the schema's that a request may carry, so a
stored conversation is no bigger than the prompt it makes. The conversation the engine sees is
the previous response's items (its input and its output) followed by these; ``instructions`` become
the first, system, message and are not carried over from a previous response, as OpenAI does.
Consecutive ``function_call`` (and ``custom_tool_call``) items become one assistant message's
``tool_calls``, under the engine's flat names (tools.py), and each output a ``tool`` message.
"""

import json
import uuid
from typing import Any

from compose_models.runner.api.responses.schema import (
    ContentPart,
    CustomToolCallItem,
    CustomToolCallOutputItem,
    FunctionCallItem,
    FunctionCallOutputItem,
    FunctionChoice,
    InputImage,
    InputText,
    JsonObjectFormat,
    JsonSchemaFormat,
    MessageItem,
    RefusalPart,
    ResponsesRequest,
    flat_name,
)
from compose_models.runner.api.responses.tools import WARNING_KEY, EngineTools, engine_tools

Item = dict[str, Any]


def item_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def input_items(request: ResponsesRequest) -> list[Item]:
    """The request's ``input`` as canonical items, without what the engine is not shown."""
    if isinstance(request.input, str):
        return [_message("user", [_text_part("user", request.input)])]
    items: list[Item] = []
    for item in request.input:
        if isinstance(item, MessageItem):
            content = [_text_part(item.role, item.content)] if isinstance(item.content, str) else _parts(item.content)
            items.append(_message(item.role, content, item.id))
        elif isinstance(item, FunctionCallItem):
            items.append({"id": item.id or item_id("fc"), "type": "function_call", "status": "completed",
                          "call_id": item.call_id, "name": item.name, "arguments": item.arguments,
                          **({"namespace": item.namespace} if item.namespace else {})})  # fmt: skip
        elif isinstance(item, CustomToolCallItem):
            items.append({"id": item.id or item_id("ctc"), "type": "custom_tool_call", "status": "completed",
                          "call_id": item.call_id, "name": item.name, "input": item.input})  # fmt: skip
        elif isinstance(item, (FunctionCallOutputItem, CustomToolCallOutputItem)):
            output = item.output if isinstance(item.output, str) else _parts(item.output)
            items.append({"id": item.id or item_id("fco"), "type": item.type, "status": "completed",
                          "call_id": item.call_id, "output": output})  # fmt: skip
        # reasoning: the model's own, never shown to it again, so neither kept
    return items


def engine_items(items: list[Item]) -> list[Item]:
    """A stored conversation without the items the engine is not shown (a reasoning model's thoughts)."""
    return [item for item in items if item.get("type") in ENGINE_ITEM_TYPES]


ENGINE_ITEM_TYPES = ("message", "function_call", "function_call_output", "custom_tool_call", "custom_tool_call_output")


def _parts(parts: list[ContentPart]) -> list[dict[str, Any]]:
    """Content parts with the fields ``_chat_part`` reads, and no others."""
    kept: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, InputText):
            kept.append({"type": "input_text", "text": part.text})
        elif isinstance(part, RefusalPart):
            kept.append({"type": "refusal", "refusal": part.refusal})
        elif isinstance(part, InputImage):
            kept.append({"type": "input_image", "image_url": part.image_url, **({"detail": part.detail} if part.detail else {})})
        else:
            kept.append({"type": "output_text", "text": part.text, "annotations": []})
    return kept


def _message(role: str, content: list[dict[str, Any]], given_id: str | None = None) -> Item:
    return {"type": "message", "id": given_id or item_id("msg"), "role": role, "status": "completed", "content": content}


def _text_part(role: str, text: str) -> dict[str, Any]:
    """Text given as a string, as the part it stands for: the assistant's earlier answer, or input."""
    if role == "assistant":
        return {"type": "output_text", "text": text, "annotations": []}
    return {"type": "input_text", "text": text}


def chat_request(request: ResponsesRequest, model: str, conversation: list[Item],
                 tools: EngineTools | None = None) -> dict[str, Any]:  # fmt: skip
    """The chat completions payload for ``conversation`` (canonical items), always asking for a stream."""
    tools = tools or engine_tools(request.tools)
    messages: list[dict[str, Any]] = [{"role": "system", "content": request.instructions}] if request.instructions else []
    for item in conversation:
        messages += _chat_message(item, messages[-1] if messages else None)
    payload: dict[str, Any] = {"model": model, "messages": messages, "stream": True}
    if tools.functions:
        payload["tools"] = tools.functions
        if request.tool_choice is not None:
            payload["tool_choice"] = _tool_choice(request.tool_choice)
        if request.parallel_tool_calls is not None:
            payload["parallel_tool_calls"] = request.parallel_tool_calls
    for name in ("temperature", "top_p", "user"):
        if getattr(request, name) is not None:
            payload[name] = getattr(request, name)
    if request.max_output_tokens is not None:
        payload["max_tokens"] = request.max_output_tokens
    text_format = request.text.format if request.text else None
    if isinstance(text_format, JsonSchemaFormat):
        payload["response_format"] = {"type": "json_schema", "json_schema": {"name": text_format.name, "schema": text_format.schema_}}
    elif isinstance(text_format, JsonObjectFormat):
        payload["response_format"] = {"type": "json_object"}
    return payload


def _chat_message(item: Item, previous: dict[str, Any] | None) -> list[dict[str, Any]]:
    """``item`` as chat messages: none when it extends ``previous`` (a call of the same assistant turn)."""
    kind = item.get("type")
    if kind == "message":
        return [{"role": item["role"], "content": [_chat_part(part) for part in item["content"]]}]
    if kind in ("function_call", "custom_tool_call"):
        if kind == "function_call":
            function = {"name": flat_name(item.get("namespace"), item["name"]), "arguments": item["arguments"]}
        else:
            function = {"name": item["name"], "arguments": json.dumps({"input": item["input"]})}
        call = {"id": item["call_id"], "type": "function", "function": function}
        if previous is not None and previous["role"] == "assistant":
            previous.setdefault("tool_calls", []).append(call)
            return []
        return [{"role": "assistant", "content": "", "tool_calls": [call]}]
    if kind in ("function_call_output", "custom_tool_call_output"):
        output = item["output"]
        text = output if isinstance(output, str) else "".join(part.get("text", "") for part in output)
        return [{"role": "tool", "tool_call_id": item["call_id"], "content": text}]
    return []  # reasoning: the model's own, not shown to it again


def _chat_part(part: dict[str, Any]) -> dict[str, Any]:
    if part["type"] == "input_image":
        return {"type": "image_url", "image_url": {"url": part["image_url"]}}
    if part["type"] == "refusal":
        return {"type": "text", "text": part["refusal"]}
    return {"type": "text", "text": part["text"]}


def _tool_choice(choice: str | FunctionChoice) -> str | dict[str, Any]:
    if isinstance(choice, FunctionChoice):
        return {"type": "function", "function": {"name": flat_name(choice.namespace, choice.name)}}
    return choice


def echoed_fields(request: ResponsesRequest, model: str, tools: EngineTools | None = None) -> dict[str, Any]:
    """What a Response object repeats of its request (of its tools, those used: not a dropped hosted one)."""
    tools = tools or engine_tools(request.tools)
    text_format = request.text.format if request.text and request.text.format else None
    tool_choice = request.tool_choice or "auto"
    return {
        "model": model,
        "instructions": request.instructions,
        "max_output_tokens": request.max_output_tokens,
        "metadata": {**(request.metadata or {}), **({WARNING_KEY: warning} if (warning := tools.warning()) else {})},
        "parallel_tool_calls": request.parallel_tool_calls if request.parallel_tool_calls is not None else True,
        "previous_response_id": request.previous_response_id,
        "reasoning": {"effort": None, "summary": None},
        "store": request.store is not False,
        "temperature": request.temperature,
        "text": {"format": text_format.model_dump(by_alias=True, exclude_none=True) if text_format else {"type": "text"}},
        "tool_choice": tool_choice if isinstance(tool_choice, str) else tool_choice.model_dump(),
        "tools": [tool.model_dump(exclude_none=True) for tool in tools.kept],
        "top_p": request.top_p,
        "truncation": "disabled",
        "user": request.user,
    }
