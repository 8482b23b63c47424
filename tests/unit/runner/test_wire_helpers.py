"""SSE framing, durations, CORS origins, dialects and the engine payload rewrite."""

import asyncio
import json

import pytest

from compose_models.runner.http.cors import origin_allowed
from compose_models.runner.http.dialects import Dialect, dialect_of
from compose_models.runner.http.streams import FrameTooLarge, event_frame, split_frames
from compose_models.runner.inference.engine_payload import chat_payload_for_engine
from compose_models.runner.inference.forced_tool_call import ForcedToolCall
from compose_models.units import format_duration, parse_duration


async def _frames(chunks: list[bytes]) -> list:
    async def source():
        for chunk in chunks:
            yield chunk

    return [frame async for frame in split_frames(source())]


def test_frames_split_on_blank_lines_whatever_the_chunking() -> None:
    frames = asyncio.run(_frames([b'data: {"a":', b' 1}\r\n\r\n: ping\r\n\r\ndata: [DO', b"NE]\n\n"]))
    assert [frame.data for frame in frames] == ['{"a": 1}', None, "[DONE]"]
    assert frames[0].payload == {"a": 1} and frames[2].is_done
    assert frames[0].raw == b'data: {"a": 1}\r\n\r\n'


@pytest.mark.parametrize("cut", range(1, 4))
def test_a_frame_end_split_between_chunks_is_found(cut: int) -> None:
    end = b"\r\n\r\n"
    frames = asyncio.run(_frames([b"data: 1" + end[:cut], end[cut:] + b"data: 2\n", b"\n"]))
    assert [frame.data for frame in frames] == ["1", "2"]


def test_a_frame_over_the_limit_is_refused_while_shorter_ones_pass() -> None:
    assert [frame.data for frame in asyncio.run(_frames([b"data: " + b"a" * 90 + b"\n\n"] * 3))] == ["a" * 90] * 3

    async def frames() -> list:
        async def source():
            yield b"data: " + b"a" * 60
            yield b"a" * 60  # 126 bytes and no blank line yet

        return [frame async for frame in split_frames(source(), limit=100)]

    with pytest.raises(FrameTooLarge):
        asyncio.run(frames())


@pytest.mark.parametrize(
    "payload",
    [{"type": "content_block_delta", "delta": {"type": "text_delta", "text": "café 灯台 🌊 \"quoted\"\n"}},
     {"text": "half of a pair: \ud83c", "count": 2**70, 3: "an int key"}],  # what orjson refuses: json writes it
    ids=["utf-8", "json-only"],
)  # fmt: skip
def test_an_event_frame_is_its_name_and_json_that_reads_back_as_the_payload(payload: dict) -> None:
    frame = event_frame("content_block_delta", payload)
    head, data = frame.decode(errors="surrogatepass").split("\n", 1)
    assert head == "event: content_block_delta" and data.startswith("data: ") and data.endswith("\n\n")
    assert data.count("\n") == 2  # one data line: a newline in the text is escaped
    assert json.loads(data.removeprefix("data: ")) == json.loads(json.dumps(payload))


@pytest.mark.parametrize(
    ("text", "seconds"), [("5m", 300), ("1h30m", 5400), ("300", 300), (-1, -1), ("-1", -1), ("1.5s", 1.5), (0, 0)]
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5 minutes", "m", "", True, None, "1x", "nan", "inf", "1e999", float("nan"), "3000000h"])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_go_duration_strings() -> None:
    assert [format_duration(s) for s in (300, 3600, 90.5, 0, -5)] == ["5m0s", "1h0m0s", "1m30.5s", "0s", "-1"]


def test_origins() -> None:
    assert origin_allowed("http://localhost:3000", [])
    assert origin_allowed("https://127.0.0.1", [])
    assert origin_allowed("http://[::1]:8080", [])
    assert not origin_allowed("https://evil.example", [])
    assert not origin_allowed("http://localhost.evil.example", [])
    assert origin_allowed("https://app.example.com", ["https://app.example.com"])
    assert origin_allowed("https://anything.example", ["*"])


def test_dialects() -> None:
    assert dialect_of("/anthropic/v1/messages") is Dialect.ANTHROPIC
    assert dialect_of("/v1/messages/count_tokens") is Dialect.ANTHROPIC
    assert dialect_of("/api/chat") is Dialect.OLLAMA
    assert dialect_of("/engines/llama.cpp/v1/chat/completions") is Dialect.OPENAI
    assert dialect_of("/models/create") is Dialect.DMR


def test_engine_payload_rewrites_what_engines_do_not_know() -> None:
    payload = chat_payload_for_engine({
        "model": "m",
        "messages": [
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            {"role": "assistant", "content": None, "tool_calls": []},
        ],
        "max_completion_tokens": 5,
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "tool_choice": "none",
        "stream": True,
    })
    assert [m["content"] for m in payload["messages"]] == ["Be brief.", "ab", ""]
    assert payload["messages"][0]["role"] == "system"
    assert payload["max_tokens"] == 5 and "max_completion_tokens" not in payload
    assert payload["response_format"] == {"type": "json_object", "schema": {"type": "object"}}
    assert "tools" not in payload and "tool_choice" not in payload
    assert payload["stream_options"] == {"include_usage": True}


def test_a_forced_tool_call_becomes_constrained_json_and_back() -> None:
    parameters = {"type": "object", "properties": {"city": {"type": "string"}}}
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": parameters}}]
    payload, forced = ForcedToolCall.of({"model": "m", "tools": tools, "tool_choice": "required", "messages": []})
    assert forced is not None and "tools" not in payload and "tool_choice" not in payload
    assert payload["response_format"] == {"type": "json_object", "schema": parameters}
    answer = forced.rewrite_answer({"choices": [{"message": {"role": "assistant", "content": '{"city": "Paris"}'},
                                                 "finish_reason": "stop"}]})
    [choice] = answer["choices"]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    assert choice["message"]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    first = forced.rewrite_chunk({"choices": [{"delta": {"content": '{"city"'}, "finish_reason": None}]})
    second = forced.rewrite_chunk({"choices": [{"delta": {"content": ': "Paris"}'}, "finish_reason": "stop"}]})
    assert first["choices"][0]["delta"]["tool_calls"][0]["id"] == choice["message"]["tool_calls"][0]["id"]
    assert second["choices"][0]["delta"]["tool_calls"] == [{"index": 0, "function": {"arguments": ': "Paris"}'}}]
    assert second["choices"][0]["finish_reason"] == "tool_calls"


def test_auto_forces_nothing_and_required_among_several_tools_forces_a_call_to_one() -> None:
    tools = [{"type": "function", "function": {"name": name}} for name in ("a", "b")]
    payload = {"model": "m", "tools": tools, "tool_choice": "auto"}
    assert ForcedToolCall.of(payload) == (payload, None)
    sent, required = ForcedToolCall.of({"model": "m", "tools": tools, "tool_choice": "required", "parallel_tool_calls": False})
    assert required is not None and "tools" not in sent and "parallel_tool_calls" not in sent
    shapes = sent["response_format"]["schema"]["anyOf"]
    assert [shape["properties"]["name"] for shape in shapes] == [{"const": "a"}, {"const": "b"}]
    held = required.rewrite_chunk({"choices": [{"delta": {"content": '{"name": "b", '}, "finish_reason": None}]})
    assert held["choices"][0]["delta"] == {}  # held back until the call is whole
    last = required.rewrite_chunk({"choices": [{"delta": {"content": '"arguments": {"x": 1}}'}, "finish_reason": "stop"}]})
    [call] = last["choices"][0]["delta"]["tool_calls"]
    assert call["index"] == 0 and call["id"] and call["function"] == {"name": "b", "arguments": '{"x": 1}'}
    assert last["choices"][0]["finish_reason"] == "tool_calls"


def test_required_with_parallel_calls_takes_an_array_and_a_cut_short_answer_stays_text() -> None:
    tools = [{"type": "function", "function": {"name": name}} for name in ("a", "b")]
    sent, required = ForcedToolCall.of({"model": "m", "tools": tools, "tool_choice": "required", "parallel_tool_calls": True})
    assert sent["response_format"]["schema"]["type"] == "array" and sent["response_format"]["schema"]["minItems"] == 1
    text = '[{"name": "a", "arguments": {}}, {"name": "b", "arguments": {}}]'
    answer = required.rewrite_answer({"choices": [{"message": {"content": text}, "finish_reason": "stop"}]})
    assert [call["function"]["name"] for call in answer["choices"][0]["message"]["tool_calls"]] == ["a", "b"]
    cut = required.rewrite_answer({"choices": [{"message": {"content": '[{"name": "a", "argu'}, "finish_reason": "length"}]})
    assert cut["choices"][0]["message"] == {"content": '[{"name": "a", "argu'} and cut["choices"][0]["finish_reason"] == "length"


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", float("nan"), float("inf")])
def test_durations_are_finite(value: object) -> None:
    with pytest.raises(ValueError, match="finite"):
        parse_duration(value)
