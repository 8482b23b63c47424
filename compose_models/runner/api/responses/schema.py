"""The OpenAI Responses request bodies the runner accepts (validated, and described in /openapi.json).

Input items are told apart by their ``type``; a message may leave it out, as OpenAI allows. Tools are
functions, namespaces of functions (as Codex groups its tools), and free-form ``custom`` tools; the
hosted ones (web search, file search, ...) need OpenAI's servers, so they are accepted here and then
dropped or refused by the route (``hosted_tools.py``). A tool of a type nobody defined gets a 400
naming the type.
"""

from typing import Annotated, Any, Literal, cast

from pydantic import Discriminator, Field, Tag, model_validator
from pydantic_core import PydanticCustomError

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
    namespace: str | None = None  # the namespace tool the function belongs to
    id: str | None = None


class CustomToolCallItem(Open):
    """An earlier call of a free-form tool: its text ``input`` rather than JSON arguments."""

    type: Literal["custom_tool_call"]
    call_id: NonEmpty
    name: NonEmpty
    input: str
    id: str | None = None


class CustomToolCallOutputItem(Open):
    type: Literal["custom_tool_call_output"]
    call_id: NonEmpty
    output: str | list[ContentPart]
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
        return cast(str | None, item.get("type", "message"))
    return getattr(item, "type", None)


InputItem = Annotated[
    Annotated[MessageItem, Tag("message")]
    | Annotated[FunctionCallItem, Tag("function_call")]
    | Annotated[FunctionCallOutputItem, Tag("function_call_output")]
    | Annotated[CustomToolCallItem, Tag("custom_tool_call")]
    | Annotated[CustomToolCallOutputItem, Tag("custom_tool_call_output")]
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


MAX_NAMESPACE_TOOLS = 128  # functions in one namespace; a request's body caps the whole


class NamespaceTool(Open):
    """Functions grouped under a name (Codex's MCP servers and agents); each is called as itself, with
    the ``namespace`` beside its ``name`` in the call."""

    type: Literal["namespace"]
    name: FUNCTION_NAME
    description: str | None = None
    tools: Annotated[list[FunctionTool], Field(min_length=1, max_length=MAX_NAMESPACE_TOOLS)]


class CustomTool(Open):
    """A free-form tool, called with one text ``input`` (the engine sees a function of one string).
    A ``format`` grammar is not enforced: the model is only told the tool's description."""

    type: Literal["custom"]
    name: FUNCTION_NAME
    description: str | None = None
    format: dict[str, Any] | None = None


HOSTED_TOOL_TYPES = (
    "web_search", "web_search_preview", "web_search_preview_2025_03_11", "file_search", "code_interpreter",
    "computer_use", "computer_use_preview", "image_generation", "mcp", "local_shell", "tool_search",
)  # fmt: skip


class HostedTool(Open):
    """A tool that runs on OpenAI's servers (or, ``local_shell`` and ``tool_search``, needs their models)."""

    type: Literal[HOSTED_TOOL_TYPES]  # type: ignore[valid-type]


class UnknownTool(Open):
    @model_validator(mode="before")
    @classmethod
    def _refuse(cls, value: Any) -> Any:
        kind = value.get("type") if isinstance(value, dict) else None
        known = ", ".join(("function", "namespace", "custom", *HOSTED_TOOL_TYPES))
        message = f"type {repr(kind)[:80]} is not a tool type (known: {known})"
        raise PydanticCustomError("tool_type", "{message}", {"message": message})


def _tool_type(tool: Any) -> str:
    kind = tool.get("type") if isinstance(tool, dict) else getattr(tool, "type", None)
    if kind in ("function", "namespace", "custom"):
        return cast(str, kind)
    # An unknown type's tag is "type", so that the 400 names the field: ``tools.N.type``.
    return "hosted" if kind in HOSTED_TOOL_TYPES else "type"


Tool = Annotated[
    Annotated[FunctionTool, Tag("function")]
    | Annotated[NamespaceTool, Tag("namespace")]
    | Annotated[CustomTool, Tag("custom")]
    | Annotated[HostedTool, Tag("hosted")]
    | Annotated[UnknownTool, Tag("type")],
    Discriminator(_tool_type),
]


class FunctionChoice(Open):
    type: Literal["function", "custom"]
    name: NonEmpty
    namespace: str | None = None


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
    tools: list[Tool] | None = None
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
        choice = self.tool_choice
        if isinstance(choice, FunctionChoice) and flat_name(choice.namespace, choice.name) not in callable_names(self.tools):
            named = f"{choice.namespace}.{choice.name}" if choice.namespace else choice.name
            raise ValueError(f"tool_choice names {named!r}, which is not in tools")
        return self


def flat_name(namespace: str | None, name: str) -> str:
    """The one name a function has for the engine: a namespaced one joined as Codex joins it, with ``__``."""
    return f"{namespace.rstrip('_')}__{name.lstrip('_')}" if namespace else name


def callable_names(tools: list[Any] | None) -> set[str]:
    """The engine's names of every function and custom tool in ``tools``."""
    names: set[str] = set()
    for tool in tools or []:
        if isinstance(tool, (FunctionTool, CustomTool)):
            names.add(tool.name)
        elif isinstance(tool, NamespaceTool):
            names.update(flat_name(tool.name, function.name) for function in tool.tools)
    return names
