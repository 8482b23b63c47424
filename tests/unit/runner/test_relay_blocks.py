"""The OpenAI relay's byte path: whole frames of a read pass as one block, and only the frames that may need
a change are parsed, wherever the engine's reads cut the stream."""

import asyncio

import pytest

from compose_models.runner.http.streams import FrameTooLarge, SseFrame, last_payload, split_blocks, tokens_in

TOKEN = b'data: {"choices":[{"finish_reason":null,"index":0,"delta":{"content":" tok"}}],"object":"chat.completion.chunk"}\n\n'
ROLE = b'data: {"choices":[{"finish_reason":null,"index":0,"delta":{"role":"assistant","content":null}}]}\n\n'
FINISH = b'data: {"choices":[{"finish_reason": "length","index":0,"delta":{}}],"object":"chat.completion.chunk"}\n\n'
USAGE = b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}\n\n'
DONE = b"data: [DONE]\n\n"
STREAM = ROLE + TOKEN + TOKEN + FINISH + USAGE + DONE


def _items(chunks: list[bytes], limit: int = 1024 * 1024) -> list[bytes | SseFrame]:
    async def source():
        for chunk in chunks:
            yield chunk

    async def collect() -> list[bytes | SseFrame]:
        return [item async for item in split_blocks(source(), limit)]

    return asyncio.run(collect())


def test_the_frames_of_one_read_pass_as_one_block_and_the_end_is_parsed() -> None:
    items = _items([STREAM])
    assert items[0] == ROLE + TOKEN + TOKEN  # nothing in them to change: one block, unparsed
    assert [item.payload["usage"]["completion_tokens"] if "usage" in item.payload else None
            for item in items[1:3]] == [None, 2]  # fmt: skip
    assert items[1].raw == FINISH and items[3].is_done


def test_any_cut_between_reads_gives_the_same_bytes_and_frames() -> None:
    for cut in range(1, len(STREAM)):
        items = _items([STREAM[:cut], STREAM[cut:]])
        assert b"".join(item if isinstance(item, bytes) else item.raw for item in items) == STREAM, cut
        assert [item.data for item in items if isinstance(item, SseFrame)] == [
            FINISH[6:-2].decode(), USAGE[6:-2].decode(), "[DONE]"
        ], cut


def test_tool_calls_and_errors_are_parsed_in_their_place_between_blocks() -> None:
    tool = b'data: {"choices":[{"delta":{"tool_calls":[{"index":0,"id":"a"}]}}]}\n\n'
    error = b'data: {"error":{"message":"boom"}}\n\n'
    items = _items([TOKEN + tool + TOKEN + error + TOKEN])
    kinds = [type(item).__name__ for item in items]
    assert kinds == ["bytes", "SseFrame", "bytes", "SseFrame", "bytes"]
    assert items[1].payload["choices"][0]["delta"]["tool_calls"][0]["id"] == "a"


def test_text_that_looks_like_a_key_is_no_reason_to_parse() -> None:
    quoted = b'data: {"choices":[{"delta":{"content":"say \\"usage\\": [DONE"}}]}\n\n'
    assert _items([quoted]) == [quoted]


def test_tokens_are_counted_from_the_bytes() -> None:
    assert tokens_in(ROLE + TOKEN + TOKEN) == 2
    assert tokens_in(b'data: {"choices":[{"delta":{"content": ""}}]}\n\n') == 0
    assert tokens_in(b'data: {"choices":[{"text":"a"}],"object":"text_completion"}\n\n') == 1


def test_a_frame_over_the_limit_is_refused() -> None:
    with pytest.raises(FrameTooLarge):
        _items([TOKEN, b"data: " + b"a" * 60, b"a" * 60], limit=100)


def test_the_last_chunk_of_a_block_is_found_for_the_usage_it_adds() -> None:
    assert last_payload(TOKEN + b": ping\n\n")["object"] == "chat.completion.chunk"
    assert last_payload(b": ping\n\n") is None
