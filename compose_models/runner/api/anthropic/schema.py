"""The Anthropic Messages request bodies the runner accepts (validated, and described in /openapi.json)."""

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from compose_models.runner.api.openai.schema import NonEmpty, Open


class TextBlock(Open):
    type: Literal["text"]
    text: str


class ImageBlock(Open):
    type: Literal["image"]
    source: dict[str, Any]


class DocumentBlock(Open):
    type: Literal["document"]
    source: dict[str, Any]


class ToolUseBlock(Open):
    type: Literal["tool_use"]
    id: str
    name: str
    input: dict[str, Any]


class ToolResultBlock(Open):
    type: Literal["tool_result"]
    tool_use_id: str
    content: str | list[Annotated[TextBlock | ImageBlock, Field(discriminator="type")]] | None = None
    is_error: bool | None = None


class ThinkingBlock(Open):
    type: Literal["thinking"]
    thinking: str


class RedactedThinkingBlock(Open):
    type: Literal["redacted_thinking"]
    data: str


Block = Annotated[
    TextBlock | ImageBlock | DocumentBlock | ToolUseBlock | ToolResultBlock | ThinkingBlock | RedactedThinkingBlock,
    Field(discriminator="type"),
]


class Message(Open):
    """A turn; ``system`` is a mid-conversation system message (Claude Code's beta
    ``mid-conversation-system-2026-04-07``), placed as translation.py says."""

    role: Literal["user", "assistant", "system"]
    content: str | list[Block]


class Tool(Open):
    """A client tool (with ``input_schema``); server tools such as web search have only a ``type``."""

    name: NonEmpty
    type: str | None = None
    description: str | None = None
    input_schema: dict[str, Any] | None = None


class ToolChoice(Open):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: bool | None = None


class JsonOutputFormat(Open):
    type: Literal["json_schema"]
    schema_: dict[str, Any] = Field(alias="schema")


class OutputConfig(Open):
    format: JsonOutputFormat | None = None


class CountTokensRequest(Open):
    model: NonEmpty
    messages: Annotated[list[Message], Field(min_length=1)]
    system: str | list[TextBlock] | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None

    @model_validator(mode="after")
    def _named_tool_exists(self) -> "CountTokensRequest":
        choice = self.tool_choice
        if choice is not None and choice.type == "tool" and choice.name not in {tool.name for tool in self.tools or []}:
            raise ValueError(f"tool_choice names {choice.name!r}, which is not in tools")
        return self


class MessagesRequest(CountTokensRequest):
    max_tokens: Annotated[int, Field(ge=1)]
    stop_sequences: list[Annotated[str, Field(min_length=1)]] | None = None
    stream: bool | None = None
    temperature: Annotated[float, Field(ge=0, le=1)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    top_k: Annotated[int, Field(ge=0)] | None = None
    metadata: dict[str, Any] | None = None
    output_config: OutputConfig | None = None
