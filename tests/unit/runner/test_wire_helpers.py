"""SSE framing, durations, CORS origins, dialects and the engine payload rewrite."""

import asyncio

import pytest

from compose_models.runner.cors import origin_allowed
from compose_models.runner.dialects import Dialect, dialect_of
from compose_models.runner.durations import format_duration, parse_duration
from compose_models.runner.engine_payload import chat_payload_for_engine
from compose_models.runner.sse import split_frames


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


@pytest.mark.parametrize(
    ("text", "seconds"), [("5m", 300), ("1h30m", 5400), ("300", 300), (-1, -1), ("-1", -1), ("1.5s", 1.5), (0, 0)]
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5 minutes", "m", "", True, None, "1x"])
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
        "tool_choice": "required",
        "stream": True,
    })
    assert [m["content"] for m in payload["messages"]] == ["Be brief.", "ab", ""]
    assert payload["messages"][0]["role"] == "system"
    assert payload["max_tokens"] == 5 and "max_completion_tokens" not in payload
    assert payload["response_format"] == {"type": "json_object", "schema": {"type": "object"}}
    assert payload["tool_choice"] == {"type": "function", "function": {"name": "f"}}
    assert payload["stream_options"] == {"include_usage": True}
