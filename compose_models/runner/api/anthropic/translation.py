"""Anthropic Messages requests as OpenAI chat requests (what the engines speak).

``system`` becomes the first message; content blocks become text, image parts, assistant
``tool_calls`` and ``tool`` messages; ``stop_sequences`` are left out, because the runner watches
for them itself to report which one ended the answer (see anthropic_stream.py).

A ``system`` message inside ``messages`` (sent by Claude Code) joins the system prompt when no user or
assistant turn comes before it. Later ones become user text wrapped in ``<system-reminder>`` tags (the
form Claude Code itself uses for its reminders), merged into the user turn next to them: many chat
templates refuse a system message after the first turn or turns that do not alternate, and every
template renders user text.
"""

import json
from typing import Any

from compose_models.runner.api.anthropic.schema import (
    CountTokensRequest,
    DocumentBlock,
    ImageBlock,
    Message,
    MessagesRequest,
    TextBlock,
    ToolChoice,
    ToolResultBlock,
    ToolUseBlock,
)

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "content_filter": "refusal"}
CONTEXT_FULL = "model_context_window_exceeded"


def chat_request(request: CountTokensRequest) -> dict[str, Any]:
    system_parts: list[str] = []
    if request.system:
        system_parts.append(request.system if isinstance(request.system, str) else "\n".join(b.text for b in request.system))
    conversation: list[dict[str, Any]] = []
    for message in request.messages:
        if message.role == "system" and not conversation:
            system_parts.append(_text_of(message))
        elif message.role == "system":
            conversation.append({"role": "user", "content": f"<system-reminder>\n{_text_of(message)}\n</system-reminder>"})
        else:
            conversation += _chat_messages(message)
    messages = [{"role": "system", "content": "\n\n".join(system_parts)}] if system_parts else []
    messages += _merged_user_turns(conversation)
    payload: dict[str, Any] = {"model": request.model, "messages": messages}
    tools = [_function(tool) for tool in request.tools or [] if tool.input_schema is not None]
    if tools:
        payload["tools"] = tools
        if request.tool_choice:
            payload.update(_tool_choice(request.tool_choice))
    if isinstance(request, MessagesRequest):
        payload["max_tokens"] = request.max_tokens
        for name in ("temperature", "top_p", "top_k"):
            if getattr(request, name) is not None:
                payload[name] = getattr(request, name)
        if request.metadata and isinstance(request.metadata.get("user_id"), str):
            payload["user"] = request.metadata["user_id"]
        if request.output_config and request.output_config.format:
            schema = request.output_config.format.schema_
            payload["response_format"] = {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}
    return payload


def _text_of(message: Message) -> str:
    if isinstance(message.content, str):
        return message.content
    return "\n".join(block.text for block in message.content if isinstance(block, TextBlock))


def _merged_user_turns(conversation: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive user messages as one (as Anthropic's API does), so that turns still alternate."""
    merged: list[dict[str, Any]] = []
    for message in conversation:
        previous = merged[-1] if merged else None
        if previous is not None and previous["role"] == message["role"] == "user":
            merged[-1] = {"role": "user", "content": _joined_content(previous["content"], message["content"])}
        else:
            merged.append(message)
    return merged


def _joined_content(first: str | list[dict[str, Any]], second: str | list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    if isinstance(first, str) and isinstance(second, str):
        return f"{first}\n\n{second}"
    def as_parts(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"type": "text", "text": content}] if isinstance(content, str) else content
    return as_parts(first) + as_parts(second)


def _chat_messages(message: Message) -> list[dict[str, Any]]:
    if isinstance(message.content, str):
        return [{"role": message.role, "content": message.content}]
    if message.role == "assistant":
        return [_assistant_message(message)]
    tool_messages = [_tool_message(block) for block in message.content if isinstance(block, ToolResultBlock)]
    parts = [part for block in message.content if (part := _user_part(block)) is not None]
    user = [{"role": "user", "content": _joined(parts)}] if parts else []
    return tool_messages + user


def _assistant_message(message: Message) -> dict[str, Any]:
    text = "".join(block.text for block in message.content if isinstance(block, TextBlock))
    calls = [
        {"id": block.id, "type": "function", "function": {"name": block.name, "arguments": json.dumps(block.input)}}
        for block in message.content
        if isinstance(block, ToolUseBlock)
    ]
    return {"role": "assistant", "content": text, **({"tool_calls": calls} if calls else {})}


def _tool_message(block: ToolResultBlock) -> dict[str, Any]:
    if isinstance(block.content, list):
        content = "".join(part.text for part in block.content if isinstance(part, TextBlock))
    else:
        content = block.content or ""
    return {"role": "tool", "tool_call_id": block.tool_use_id, "content": f"Error: {content}" if block.is_error else content}


def _user_part(block: Any) -> dict[str, Any] | None:
    if isinstance(block, TextBlock):
        return {"type": "text", "text": block.text}
    if isinstance(block, DocumentBlock) and block.source.get("type") == "text":
        return {"type": "text", "text": str(block.source.get("data", ""))}
    if isinstance(block, ImageBlock):
        source = block.source
        url = source.get("url") if source.get("type") == "url" else f"data:{source.get('media_type')};base64,{source.get('data')}"
        return {"type": "image_url", "image_url": {"url": url}}
    return None


def _joined(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """Text-only content as one string, which every chat template renders."""
    if all(part["type"] == "text" for part in parts):
        return "\n".join(part["text"] for part in parts)
    return parts


def _function(tool: Any) -> dict[str, Any]:
    function = {"name": tool.name, "parameters": tool.input_schema}
    if tool.description:
        function["description"] = tool.description
    return {"type": "function", "function": function}


def _tool_choice(choice: ToolChoice) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if choice.type == "tool" and choice.name:
        fields["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
    else:
        fields["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}.get(choice.type, "auto")
    if choice.disable_parallel_tool_use:
        fields["parallel_tool_calls"] = False
    return fields
