"""The tool-call parser on each format's text, whole and split at every position (as a stream may split it),
the format read from chat templates, and the OpenAI chunks and answers built from what it finds."""

import json

import pytest

from compose_models.runner.backends import batched, llama_server
from compose_models.runner.inference.chosen_tool_calls import ChosenToolCalls
from compose_models.runner.inference.tool_call_format import (
    GRANITE,
    HERMES,
    LLAMA3_JSON,
    MISTRAL,
    MISTRAL_NAMED,
    NEMOTRON,
    PHI4,
    ToolCallFormat,
    tool_call_format,
)
from compose_models.runner.inference.tool_call_parser import Arguments, CallStart, Text, ToolCallParser

Parsed = tuple[str, list[tuple[str, dict]]]


def parsed(format: ToolCallFormat, pieces: list[str]) -> Parsed:
    """The content and the calls (name, arguments) the parser finds in text arriving as ``pieces``."""
    parser = ToolCallParser(format)
    found = [piece for text in pieces for piece in parser.feed(text)] + parser.finish()
    content = "".join(piece.text for piece in found if isinstance(piece, Text))
    names = {piece.index: piece.name for piece in found if isinstance(piece, CallStart)}
    arguments = {index: "" for index in names}
    for piece in found:
        if isinstance(piece, Arguments):
            arguments[piece.index] += piece.fragment
    return content, [(names[index], json.loads(arguments[index])) for index in sorted(names)]


CASES = [
    (HERMES, 'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris \\"}\\" {"}}\n</tool_call>\n',
     ("Let me check.\n", [("get_weather", {"city": 'Paris "}" {'})])),
    (HERMES, '<tool_call>{"arguments": {"a": [1, 2]}, "name": "f"}</tool_call>\n<tool_call>{"name": "g", "arguments": {}}</tool_call>',
     ("", [("f", {"a": [1, 2]}), ("g", {})])),
    (HERMES, 'Use <tool_call> tags, like <tool_call>this</tool_call>.', ("Use <tool_call> tags, like <tool_call>this</tool_call>.", [])),
    (HERMES, "an unfinished <tool_", ("an unfinished <tool_", [])),
    (LLAMA3_JSON, '\n{"name": "search", "parameters": {"query": "llamas"}}', ("", [("search", {"query": "llamas"})])),
    (LLAMA3_JSON, '{"type": "function", "name": "f", "parameters": {}}', ("", [("f", {})])),
    (LLAMA3_JSON, '<|python_tag|>{"name": "f", "parameters": {"x": 1}}', ("", [("f", {"x": 1})])),
    (LLAMA3_JSON, '{"answer": 42}', ('{"answer": 42}', [])),
    (LLAMA3_JSON, 'Call {"name": "f", "parameters": {}} yourself.', ('Call {"name": "f", "parameters": {}} yourself.', [])),
    (MISTRAL, 'Sure[TOOL_CALLS] [{"name": "f", "arguments": {"a": 1}}, {"name": "g", "arguments": "{\\"b\\": 2}"}]',
     ("Sure", [("f", {"a": 1}), ("g", {"b": 2})])),
    (MISTRAL, '[{"name": "f", "arguments": {}}]', ("", [("f", {})])),  # [TOOL_CALLS] rendered as nothing
    (MISTRAL, "[1, 2] are numbers", ("[1, 2] are numbers", [])),
    (MISTRAL, "[Verse 1]", ("[Verse 1]", [])),
    (MISTRAL_NAMED, '[TOOL_CALLS]f[ARGS]{"a": {"b": "]"}}[TOOL_CALLS]g[ARGS]{}', ("", [("f", {"a": {"b": "]"}}), ("g", {})])),
    (GRANITE, '<|tool_call|>[{"name": "f", "arguments": {"a": 1}}]', ("", [("f", {"a": 1})])),
    (PHI4, '<|tool_call|>[{"name": "f", "arguments": {"a": 1}}]<|/tool_call|>', ("", [("f", {"a": 1})])),
    (NEMOTRON, 'ok <TOOLCALL>[{"name": "f", "arguments": {}}]</TOOLCALL> done', ("ok  done", [("f", {})])),
]


@pytest.mark.parametrize(("format", "text", "expected"), CASES, ids=[f"{case[0].name}-{i}" for i, case in enumerate(CASES)])
def test_the_same_calls_are_found_however_the_text_is_split(format: ToolCallFormat, text: str, expected: Parsed) -> None:
    assert parsed(format, [text]) == expected
    for split in range(1, len(text)):
        assert parsed(format, [text[:split], text[split:]]) == expected, split
    assert parsed(format, list(text)) == expected


def test_a_call_is_announced_before_its_arguments_end_and_they_stream() -> None:
    parser = ToolCallParser(HERMES)
    assert parser.feed("Hi <tool") == [Text("Hi ")]
    start, arguments = parser.feed('_call>{"name": "f", "arguments": {"q": "lla')
    assert isinstance(start, CallStart) and start.name == "f" and start.call_id.startswith("call_")
    assert arguments == Arguments(0, '{"q": "lla')
    assert parser.feed('mas"') == [Arguments(0, 'mas"')]
    assert parser.feed("}}</tool_call>") == [Arguments(0, "}")]
    assert parser.finish() == []


def test_a_call_cut_short_keeps_what_arrived() -> None:
    assert parsed(HERMES, ['<tool_call>{"name": "f", "arguments": {"a": 1}']) == ("", [("f", {"a": 1})])
    parser = ToolCallParser(HERMES)
    parser.feed('<tool_call>{"nam')
    assert parser.finish() == [Text('<tool_call>{"nam')] and not parser.calls


TEMPLATES = [
    ("{%- for tool in tools %}...<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>", HERMES),
    ("<|start_header_id|>ipython<|end_header_id|>{\"name\": function name, \"parameters\": dictionary}", LLAMA3_JSON),
    ("{{- '[AVAILABLE_TOOLS] ' }}{{- '[TOOL_CALLS] ' }}", MISTRAL),
    ("{{- '[TOOL_CALLS]' + tool.name + '[ARGS]' + arguments }}", MISTRAL_NAMED),
    ("<|tool_call|>{{ tool_calls | tojson }}", GRANITE),
    ("<|tool_call|>{{ tool_calls | tojson }}<|/tool_call|>", PHI4),
    ("<TOOLCALL>{{ calls }}</TOOLCALL>", NEMOTRON),
    ("<tool_call>\n<function=name>\n<parameter=x>", None),  # Qwen3-Coder's XML calls are not parsed
    ("{% for message in messages %}<|im_start|>{{ message['content'] }}<|im_end|>{% endfor %}", None),
]


@pytest.mark.parametrize(("template", "expected"), TEMPLATES)
def test_the_format_is_read_from_the_chat_template(template: str, expected: ToolCallFormat | None) -> None:
    assert tool_call_format(template) == expected


class _Model:
    chat_template_path = None
    config = {"gguf": {"tokenizer.chat_template": "... <tool_call> ..."}}


TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]


def test_calls_are_parsed_only_when_tools_were_offered_to_an_engine_that_does_not_parse_them() -> None:
    assert ChosenToolCalls.of({"tools": TOOLS}, _Model(), batched.NAME) is not None
    assert ChosenToolCalls.of({"tools": TOOLS, "tool_choice": "auto"}, _Model(), batched.NAME) is not None
    assert ChosenToolCalls.of({}, _Model(), batched.NAME) is None
    assert ChosenToolCalls.of({"tools": TOOLS}, _Model(), llama_server.NAME) is None


def chunk(delta: dict, finish_reason: str | None = None) -> dict:
    return {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}


def test_stream_chunks_become_content_then_tool_call_deltas() -> None:
    calls = ChosenToolCalls(HERMES)
    sent = calls.rewrite_chunk(chunk({"role": "assistant", "content": ""}))
    for piece in ["Sure. <tool", '_call>{"name": "f", "arguments": {"a"', ": 1}}</tool_call>"]:
        sent += calls.rewrite_chunk(chunk({"content": piece}))
    sent += calls.rewrite_chunk(chunk({}, "stop"))
    deltas = [(c["choices"][0]["delta"], c["choices"][0]["finish_reason"]) for c in sent]
    assert deltas[0] == ({"role": "assistant"}, None)
    assert deltas[1] == ({"content": "Sure. "}, None)
    [start] = deltas[2][0]["tool_calls"]
    assert start["id"].startswith("call_") and start["function"] == {"name": "f", "arguments": '{"a"'}
    [more] = deltas[3][0]["tool_calls"]
    assert more == {"index": 0, "function": {"arguments": ": 1}"}}
    assert deltas[-1][1] == "tool_calls"


def test_whole_answers_get_tool_calls_unless_the_engine_gave_them() -> None:
    answer = {"choices": [{"index": 0, "message": {"role": "assistant", "content": '<tool_call>{"name": "f", "arguments": {}}</tool_call>'},
                           "finish_reason": "stop"}]}  # fmt: skip
    [choice] = ChosenToolCalls(HERMES).rewrite_answer(answer)["choices"]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    assert [call["function"] for call in choice["message"]["tool_calls"]] == [{"name": "f", "arguments": "{}"}]
    engine_parsed = {"role": "assistant", "content": "<tool_call>x</tool_call>", "tool_calls": [{"id": "1"}]}
    answer = {"choices": [{"index": 0, "message": dict(engine_parsed), "finish_reason": "tool_calls"}]}
    assert ChosenToolCalls(HERMES).rewrite_answer(answer)["choices"][0]["message"] == engine_parsed
