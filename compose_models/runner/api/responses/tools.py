"""A Responses request's tools as the engine's chat functions, and the engine's calls as the items the
client expects back.

The engine knows only functions with one flat name each. A namespace's functions are named as Codex
flattens them (``namespace__name``) and reported back with ``name`` and ``namespace`` apart, as
Codex's ``ResponseItem::FunctionCall`` reads them. A ``custom`` tool becomes a function of one string
``input``, and its call a ``custom_tool_call`` item carrying that text. Hosted tools (OpenAI's web
search, file search, ...) cannot run here: by default they are dropped, and the answer's ``metadata``
says so; ``COMPOSE_MODELS_HOSTED_TOOLS=refuse`` makes them a 400 naming the tool instead.
"""

import json
import os
from dataclasses import dataclass, field
from typing import Any, cast

from compose_models.runner.api.responses.schema import CustomTool, FunctionTool, HostedTool, NamespaceTool, flat_name
from compose_models.runner.http.errors import ApiError

HOSTED_TOOLS_VARIABLE = "COMPOSE_MODELS_HOSTED_TOOLS"
HOSTED_TOOLS_POLICIES = ("drop", "refuse")
WARNING_KEY = "compose_models_warning"  # the key of the answer's ``metadata`` that says what was dropped
CUSTOM_PARAMETERS = {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]}


@dataclass(frozen=True)
class CallName:
    """What the client calls the function the engine knows by a flat name."""

    name: str
    namespace: str | None = None
    custom: bool = False


@dataclass
class EngineTools:
    functions: list[dict[str, Any]] = field(default_factory=list)  # chat completions ``tools``
    names: dict[str, CallName] = field(default_factory=dict)  # by the engine's name
    kept: list[Any] = field(default_factory=list)  # the request's tools that are used (echoed back)
    dropped: list[str] = field(default_factory=list)  # hosted tools' types

    def warning(self) -> str | None:
        if not self.dropped:
            return None
        return (f"dropped hosted tools {', '.join(sorted(set(self.dropped)))}: they run on OpenAI's servers, "
                f"not on this runner (${HOSTED_TOOLS_VARIABLE}=refuse makes them a 400)")  # fmt: skip

    def call_fields(self, engine_name: str) -> CallName:
        return self.names.get(engine_name) or CallName(engine_name)


def engine_tools(tools: list[Any] | None) -> EngineTools:
    """``tools`` as the engine's functions; a hosted tool dropped, or refused under ``refuse``."""
    result = EngineTools()
    for position, tool in enumerate(tools or []):
        if isinstance(tool, HostedTool):
            if hosted_tools_policy() == "refuse":
                raise ApiError(400, f"tools.{position}: {tool.type!r} is a hosted tool, which runs on OpenAI's servers "
                                    f"and not on this runner (set ${HOSTED_TOOLS_VARIABLE}=drop to have it ignored)",
                               param=f"tools.{position}")  # fmt: skip
            result.dropped.append(tool.type)
            continue
        result.kept.append(tool)
        if isinstance(tool, FunctionTool):
            _add(result, tool.name, CallName(tool.name), tool.description, tool.parameters)
        elif isinstance(tool, NamespaceTool):
            for function in tool.tools:
                description = function.description or tool.description
                _add(result, flat_name(tool.name, function.name), CallName(function.name, tool.name), description,
                     function.parameters)  # fmt: skip
        elif isinstance(tool, CustomTool):
            _add(result, tool.name, CallName(tool.name, custom=True), tool.description, CUSTOM_PARAMETERS)
    return result


def _add(result: EngineTools, engine_name: str, name: CallName, description: str | None,
         parameters: dict[str, Any] | None) -> None:  # fmt: skip
    if engine_name in result.names:
        raise ApiError(400, f"tools: two tools are named {engine_name!r}", param="tools")
    result.names[engine_name] = name
    function: dict[str, Any] = {"name": engine_name}
    if description is not None:
        function["description"] = description
    if parameters is not None:
        function["parameters"] = parameters
    result.functions.append({"type": "function", "function": function})


def hosted_tools_policy() -> str:
    policy = os.environ.get(HOSTED_TOOLS_VARIABLE, "drop").strip().lower() or "drop"
    if policy not in HOSTED_TOOLS_POLICIES:
        raise ApiError(500, f"${HOSTED_TOOLS_VARIABLE} is {policy!r}: expected one of {', '.join(HOSTED_TOOLS_POLICIES)}")
    return policy


def custom_input(arguments: str) -> str:
    """A custom tool's text from the arguments the engine wrote for its one-string function."""
    try:
        parsed = json.loads(arguments)
    except ValueError:
        return arguments
    if isinstance(parsed, dict) and isinstance(parsed.get("input"), str):
        return cast(str, parsed["input"])
    return arguments
