"""The Ollama request bodies the runner accepts (validated, and described in /openapi.json).

Ollama names the model ``model`` (``name`` in older clients); both are accepted.
``options.num_ctx`` is checked against the model when the request is served.
"""

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, ConfigDict, Field

from compose_models.runner.api.openai.schema import NonEmpty, Open, Tool

KeepAlive = str | float | None


class Named(Open):
    model: NonEmpty = Field(validation_alias=AliasChoices("model", "name"))


class Options(Open):
    num_ctx: Annotated[int, Field(ge=1)] | None = None
    num_predict: int | None = None
    temperature: Annotated[float, Field(ge=0)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    top_k: Annotated[int, Field(ge=0)] | None = None
    min_p: Annotated[float, Field(ge=0, le=1)] | None = None
    stop: list[str] | None = None
    seed: int | None = None
    repeat_penalty: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None


class ToolCallFunction(Open):
    name: str
    arguments: dict[str, Any]


class ToolCall(Open):
    function: ToolCallFunction


class ChatMessage(Open):
    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    images: list[str] | None = None
    tool_calls: list[ToolCall] | None = None
    tool_name: str | None = None


class Generation(Named):
    """What chat and generate share."""

    format: Literal["", "json"] | dict[str, Any] | None = None
    options: Options | None = None
    stream: bool = True
    keep_alive: KeepAlive = None
    think: bool | str | None = None


class ChatRequest(Generation):
    messages: list[ChatMessage] = []
    tools: list[Tool] | None = None


class GenerateRequest(Generation):
    prompt: str = ""
    suffix: str | None = None
    system: str | None = None
    template: str | None = None
    raw: bool = False
    images: list[str] | None = None


class EmbedRequest(Named):
    input: NonEmpty | Annotated[list[NonEmpty], Field(min_length=1)]
    truncate: bool = True
    options: Options | None = None
    keep_alive: KeepAlive = None


class EmbeddingsRequest(Named):
    prompt: NonEmpty
    options: Options | None = None
    keep_alive: KeepAlive = None


class PullRequest(Named):
    insecure: bool = False
    stream: bool = True


class CopyRequest(Open):
    source: NonEmpty
    destination: NonEmpty


class CreateModelRequest(Named):
    """``/api/create``: a base (``from`` a stored model, or ``files`` uploaded to ``/api/blobs``) and what
    to add; or the older ``modelfile`` string, whose lines the other fields override."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False, populate_by_name=True)

    from_: str | None = Field(None, alias="from")
    files: dict[str, str] | None = None
    adapters: dict[str, str] | None = None
    quantize: str | None = None
    template: str | None = None
    system: str | None = None
    license: str | list[str] | None = None
    parameters: dict[str, Any] | None = None
    messages: list[ChatMessage] | None = None
    modelfile: str | None = None
    stream: bool = True


class PushRequest(PullRequest):
    """``/api/push``: the same fields as a pull."""
