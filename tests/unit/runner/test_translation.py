import json

from compose_models.runner.api.anthropic.schema import MessagesRequest
from compose_models.runner.api.anthropic.stream import AnthropicStream
from compose_models.runner.api.anthropic.translation import chat_request


def request(**fields: object) -> MessagesRequest:
    return MessagesRequest.model_validate({"model": "m", "max_tokens": 10, **fields})


def chunk(delta: dict, finish_reason: str | None = None) -> dict:
    return {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}


def test_system_blocks_tools_and_results_become_chat_messages() -> None:
    payload = chat_request(
        request(
            system=[{"type": "text", "text": "Be brief."}],
            messages=[
                {"role": "user", "content": "Weather?"},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Let me look."},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "Sunny"}]},
                    {"type": "text", "text": "Thanks"},
                ]},
            ],
            tools=[{"name": "get_weather", "input_schema": {"type": "object"}}, {"type": "web_search_20250305", "name": "web"}],
            tool_choice={"type": "any"},
            stop_sequences=["END"],
        )
    )
    assert payload["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": "Let me look.", "tool_calls": [
            {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
        ]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "Sunny"},
        {"role": "user", "content": "Thanks"},
    ]
    assert [tool["function"]["name"] for tool in payload["tools"]] == ["get_weather"]
    assert payload["tool_choice"] == "required" and payload["max_tokens"] == 10
    assert "stop" not in payload  # the runner watches for stop sequences itself


def test_stream_events_in_order_with_a_tool_call_after_text() -> None:
    stream = AnthropicStream("m", [])
    events = stream.start(12)
    events += stream.feed(chunk({"role": "assistant", "content": "Hi"}))
    events += stream.feed(chunk({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "f", "arguments": '{"a"'}}]}))
    events += stream.feed(chunk({"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}, "tool_calls"))
    events += stream.finish(5, 3)
    assert [name for name, _ in events] == [
        "message_start", "ping",
        "content_block_start", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "message_delta", "message_stop",
    ]
    assert events[5][1]["content_block"] == {"type": "tool_use", "id": "c1", "name": "f", "input": {}}
    assert events[-2][1]["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    message = stream.message(5, 3)
    assert message["content"] == [{"type": "text", "text": "Hi"}, {"type": "tool_use", "id": "c1", "name": "f", "input": {"a": 1}}]
    assert message["usage"]["input_tokens"] == 5 and message["usage"]["output_tokens"] == 3


def test_a_stop_sequence_cuts_the_text_and_sets_the_stop_reason() -> None:
    stream = AnthropicStream("m", ["STOP"])
    stream.start(5)
    deltas = stream.feed(chunk({"content": "one ST"})) + stream.feed(chunk({"content": "OP two"}))
    assert stream.stopped_by_sequence
    stream.finish(1, 2)
    text = "".join(data["delta"]["text"] for name, data in deltas if name == "content_block_delta")
    assert text == "one " and stream.message(1, 2)["stop_reason"] == "stop_sequence"
    assert json.dumps(stream.message(1, 2)["stop_sequence"]) == '"STOP"'


def test_length_becomes_max_tokens() -> None:
    stream = AnthropicStream("m", [])
    stream.feed(chunk({"content": "x"}, "length"))
    assert stream.finish(1, 1)[-2][1]["delta"]["stop_reason"] == "max_tokens"


def test_ollama_tool_history_and_results_become_openai_messages() -> None:
    from compose_models.runner.api.ollama.schema import ChatRequest
    from compose_models.runner.api.ollama.translation import OllamaStream, chat_payload

    parsed = ChatRequest.model_validate({"model": "m", "options": {"num_predict": 4, "stop": ["x"], "top_k": 5}, "messages": [
        {"role": "user", "content": "Weather?", "images": ["iVBORw0KGgo="]},
        {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "content": "Sunny", "tool_name": "get_weather"},
    ]})
    payload = chat_payload(parsed)
    user, assistant, tool = payload["messages"]
    assert user["content"][1] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    assert assistant["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert tool["tool_call_id"] == assistant["tool_calls"][0]["id"]
    assert (payload["max_tokens"], payload["stop"], payload["top_k"]) == (4, ["x"], 5)
    stream = OllamaStream("m", chat=True)
    stream.feed(chunk({"tool_calls": [{"index": 0, "function": {"name": "f", "arguments": '{"a": '}}]}))
    stream.feed(chunk({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}, "tool_calls"))
    assert stream.tool_calls() == [{"function": {"name": "f", "arguments": {"a": 1}}}]


def test_tool_arguments_nested_past_what_json_parses_are_dropped_not_raised() -> None:
    """A model can write any arguments; nested 100,000 deep they are no JSON object, as if malformed."""
    from compose_models.runner.api.ollama.translation import OllamaStream

    deep = "[" * 100_000 + "]" * 100_000
    ollama = OllamaStream("m", chat=True)
    ollama.feed(chunk({"tool_calls": [{"index": 0, "function": {"name": "f", "arguments": deep}}]}, "tool_calls"))
    assert ollama.tool_calls() == [{"function": {"name": "f", "arguments": {}}}]
    anthropic = AnthropicStream("m", [])
    anthropic.start(5)
    anthropic.feed(chunk({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "f", "arguments": deep}}]}, "tool_calls"))
    anthropic.finish(5, 3)
    assert anthropic.message(5, 3)["content"] == [{"type": "tool_use", "id": "c1", "name": "f", "input": {}}]


def test_system_messages_inside_messages_join_the_system_prompt_or_the_user_turn_beside_them() -> None:
    request = MessagesRequest.model_validate({"model": "m", "max_tokens": 4, "system": "Be brief.", "messages": [
        {"role": "system", "content": "Before any turn."},
        {"role": "user", "content": [{"type": "text", "text": "Say hello"}]},
        {"role": "system", "content": [{"type": "text", "text": "Agent types: claude."}]},
    ]})  # fmt: skip
    assert chat_request(request)["messages"] == [
        {"role": "system", "content": "Be brief.\n\nBefore any turn."},
        {"role": "user", "content": "Say hello\n\n<system-reminder>\nAgent types: claude.\n</system-reminder>"},
    ]
