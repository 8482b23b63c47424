"""The OpenAI Responses request bodies the runner accepts (validated, and described in /openapi.json).

Input items are told apart by their ``type``; a message may leave it out, as OpenAI allows. Only
function tools exist here: the hosted ones (web search, file search, ...) need OpenAI's servers.
"""

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from compose_models.runner.api.openai.schema import NonEmpty, Open

RESPONSE_ID_PATTERN = r"^resp_[0-9a-f]{32}$"  # what the runner makes (see store.py); nothing else is looked up
FUNCTION_NAME = Annotated[str, Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]


class InputText(Open):
    type: Literal["input_text"]
    text: str


class OutputText(Open):
    """An earlier answer's text, as clients send a conversation back."""

    type: Literal["output_text"]
    text: str


class RefusalPart(Open):
    type: Literal["refusal"]
    refusal: str


class InputImage(Open):
    type: Literal["input_image"]
    image_url: Annotated[str, Field(description="A URL or a data: URL (this runner has no files API)")]
    detail: Literal["auto", "low", "high"] | None = None


ContentPart = Annotated[InputText | OutputText | RefusalPart | InputImage, Field(discriminator="type")]


class MessageItem(Open):
    type: Literal["message"] = "message"
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[ContentPart]
    id: str | None = None


class FunctionCallItem(Open):
    type: Literal["function_call"]
    call_id: NonEmpty
    name: NonEmpty
    arguments: str
    id: str | None = None


class FunctionCallOutputItem(Open):
    type: Literal["function_call_output"]
    call_id: NonEmpty
    output: str | list[ContentPart]
    id: str | None = None


class ReasoningItem(Open):
    """An earlier answer's reasoning, which agents send back; accepted, but neither shown to the model again nor stored."""

    type: Literal["reasoning"]


def _item_type(item: Any) -> str | None:
    if isinstance(item, dict):
        return item.get("type", "message")
    return getattr(item, "type", None)


InputItem = Annotated[
    Annotated[MessageItem, Tag("message")]
    | Annotated[FunctionCallItem, Tag("function_call")]
    | Annotated[FunctionCallOutputItem, Tag("function_call_output")]
    | Annotated[ReasoningItem, Tag("reasoning")],
    Discriminator(_item_type),
]


class FunctionTool(Open):
    """Responses' flat tool shape: ``name`` and ``parameters`` beside ``type``, not under ``function``."""

    type: Literal["function"]
    name: FUNCTION_NAME
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class FunctionChoice(Open):
    type: Literal["function"]
    name: NonEmpty


class PlainTextFormat(Open):
    type: Literal["text"]


class JsonObjectFormat(Open):
    type: Literal["json_object"]


class JsonSchemaFormat(Open):
    type: Literal["json_schema"]
    name: FUNCTION_NAME
    schema_: dict[str, Any] = Field(alias="schema")
    description: str | None = None
    strict: bool | None = None


class TextConfig(Open):
    format: Annotated[PlainTextFormat | JsonObjectFormat | JsonSchemaFormat, Field(discriminator="type")] | None = None


Metadata = Annotated[
    dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=512)]], Field(max_length=16)
]


class ResponsesRequest(Open):
    model: NonEmpty | None = None  # required, unless the previous response's model is meant
    input: NonEmpty | Annotated[list[InputItem], Field(min_length=1)]
    instructions: str | None = None
    previous_response_id: Annotated[str, Field(pattern=RESPONSE_ID_PATTERN)] | None = None
    store: bool | None = None
    stream: bool | None = None
    tools: list[FunctionTool] | None = None
    tool_choice: Literal["none", "auto", "required"] | FunctionChoice | None = None
    parallel_tool_calls: bool | None = None
    text: TextConfig | None = None
    max_output_tokens: Annotated[int, Field(ge=1)] | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    metadata: Metadata | None = None
    user: str | None = None

    @model_validator(mode="after")
    def _named_tool_exists(self) -> "ResponsesRequest":
        if isinstance(self.tool_choice, FunctionChoice) and self.tool_choice.name not in {t.name for t in self.tools or []}:
            raise ValueError(f"tool_choice names {self.tool_choice.name!r}, which is not in tools")
        return self
