"""The OpenAI request bodies the runner accepts: validated before an engine sees them, and the
source of ``/openapi.json``. Unknown fields are kept and passed on (engines take extensions such
as ``top_k`` or ``min_p``)."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

NonEmpty = Annotated[str, Field(min_length=1)]


class Open(BaseModel):
    # no NaN or infinity from strings such as "nan" or "1e999" either: an engine cannot read them
    model_config = ConfigDict(extra="allow", allow_inf_nan=False)


class TextPart(Open):
    type: Literal["text"]
    text: str


class ImageUrl(Open):
    url: str
    detail: Literal["auto", "low", "high"] | None = None


class ImagePart(Open):
    type: Literal["image_url"]
    image_url: ImageUrl


class RefusalPart(Open):
    type: Literal["refusal"]
    refusal: str


ContentPart = Annotated[TextPart | ImagePart | RefusalPart, Field(discriminator="type")]


class FunctionCall(Open):
    name: str
    arguments: str


class ToolCall(Open):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


Content = str | list[ContentPart]


class InstructionMessage(Open):
    role: Literal["system", "developer"]
    content: Content
    name: str | None = None
    tool_calls: None = None  # only an assistant's message makes them (the engine rewrite reads them)


class UserMessage(Open):
    role: Literal["user"]
    content: Content
    name: str | None = None
    tool_calls: None = None


class AssistantMessage(Open):
    role: Literal["assistant"]
    content: Content | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None


class ToolMessage(Open):
    role: Literal["tool"]
    content: Content
    tool_call_id: str
    tool_calls: None = None


ChatMessage = Annotated[InstructionMessage | UserMessage | AssistantMessage | ToolMessage, Field(discriminator="role")]


class FunctionDefinition(Open):
    name: Annotated[str, Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(Open):
    type: Literal["function"]
    function: FunctionDefinition


class NamedFunction(Open):
    name: str


class NamedToolChoice(Open):
    type: Literal["function"]
    function: NamedFunction


class TextFormat(Open):
    type: Literal["text"]


class JsonObjectFormat(Open):
    type: Literal["json_object"]
    schema_: dict[str, Any] | None = Field(None, alias="schema")


class JsonSchema(Open):
    name: Annotated[str, Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]
    description: str | None = None
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    strict: bool | None = None


class JsonSchemaFormat(Open):
    type: Literal["json_schema"]
    json_schema: JsonSchema


ResponseFormat = Annotated[TextFormat | JsonObjectFormat | JsonSchemaFormat, Field(discriminator="type")]


class StreamOptions(Open):
    include_usage: bool | None = None


Stop = str | Annotated[list[str], Field(max_length=4)] | None
Penalty = Annotated[float, Field(ge=-2, le=2)] | None
TokenBias = dict[Annotated[str, Field(pattern=r"^[0-9]+$")], Annotated[float, Field(ge=-100, le=100)]]


class Sampling(Open):
    """Fields shared by chat and text completions."""

    model: NonEmpty
    max_tokens: Annotated[int, Field(ge=0)] | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    n: Annotated[int, Field(ge=1, le=1, description="Only one choice is generated")] | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    stop: Stop = None
    seed: int | None = None
    presence_penalty: Penalty = None
    frequency_penalty: Penalty = None
    logit_bias: TokenBias | None = None
    user: str | None = None


class ChatCompletionRequest(Sampling):
    messages: Annotated[list[ChatMessage], Field(min_length=1)]
    max_completion_tokens: Annotated[int, Field(ge=0)] | None = None
    logprobs: bool | None = None
    top_logprobs: Annotated[int, Field(ge=0, le=20)] | None = None
    tools: list[Tool] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None

    @model_validator(mode="after")
    def _named_tool_exists(self) -> "ChatCompletionRequest":
        if isinstance(self.tool_choice, NamedToolChoice):
            names = {tool.function.name for tool in self.tools or []}
            if self.tool_choice.function.name not in names:
                raise ValueError(f"tool_choice names {self.tool_choice.function.name!r}, which is not in tools")
        return self


class CompletionRequest(Sampling):
    prompt: NonEmpty | Annotated[list[NonEmpty], Field(min_length=1, max_length=1, description="One prompt per request")]
    suffix: str | None = None
    echo: bool | None = None
    logprobs: Annotated[int, Field(ge=0, le=5)] | None = None
    best_of: Annotated[int, Field(ge=1, le=1)] | None = None


class EmbeddingRequest(Open):
    model: NonEmpty
    input: NonEmpty | Annotated[list[NonEmpty], Field(min_length=1, max_length=2048)]
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: Annotated[int, Field(ge=1)] | None = None
    user: str | None = None


MAX_RERANK_DOCUMENTS = 1000  # each is one pass of the model; the batch a caller may ask for at once


class RerankRequest(Open):
    """Jina's and Cohere's rerank body, as llama-server and Docker Model Runner take it (``/rerank``, ``/score``)."""

    model: NonEmpty
    query: NonEmpty
    documents: Annotated[list[str], Field(min_length=1, max_length=MAX_RERANK_DOCUMENTS)]
    top_n: Annotated[int, Field(ge=1)] | None = None
    return_documents: bool | None = None
