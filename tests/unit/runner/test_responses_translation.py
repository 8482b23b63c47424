"""Responses requests as the chat requests the engines take, and chat chunks as Responses events."""

from compose_models.runner.api.responses.schema import ResponsesRequest
from compose_models.runner.api.responses.stream import ResponsesStream
from compose_models.runner.api.responses.translation import chat_request, echoed_fields, input_items
from compose_models.runner.inference.engine_payload import chat_payload_for_engine


def request(**fields: object) -> ResponsesRequest:
    return ResponsesRequest.model_validate({"model": "m", **fields})


def test_items_calls_and_their_outputs_become_chat_messages() -> None:
    parsed = request(
        instructions="Be brief.",
        input=[
            {"role": "user", "content": "Weather in Paris?"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Let me look."}]},
            {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city":"Paris"}'},
            {"type": "function_call", "call_id": "call_2", "name": "get_weather", "arguments": '{"city":"Berlin"}'},
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"type": "function_call_output", "call_id": "call_1", "output": "Sunny"},
            {"type": "function_call_output", "call_id": "call_2", "output": [{"type": "input_text", "text": "Rain"}]},
        ],
        tools=[{"type": "function", "name": "get_weather", "parameters": {"type": "object"}, "strict": True}],
        tool_choice={"type": "function", "name": "get_weather"},
        parallel_tool_calls=False,
        text={"format": {"type": "json_schema", "name": "answer", "schema": {"type": "object"}}},
        max_output_tokens=16,
    )
    payload = chat_payload_for_engine(chat_request(parsed, "m", input_items(parsed)))
    calls = [{"id": f"call_{n}", "type": "function", "function": {"name": "get_weather", "arguments": f'{{"city":"{city}"}}'}}
             for n, city in ((1, "Paris"), (2, "Berlin"))]  # fmt: skip
    assert payload["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "Let me look.", "tool_calls": calls},
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": "Rain"},
    ]
    assert payload["tools"] == [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    assert payload["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert payload["parallel_tool_calls"] is False and payload["max_tokens"] == 16 and payload["stream"] is True
    assert payload["response_format"] == {"type": "json_object", "schema": {"type": "object"}}


def test_a_tool_call_without_text_becomes_an_assistant_message_of_its_own() -> None:
    parsed = request(input=[{"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}], text={"format": {"type": "json_object"}})
    payload = chat_request(parsed, "m", input_items(parsed))
    assert payload["messages"] == [{"role": "assistant", "content": "", "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}]  # fmt: skip
    assert payload["response_format"] == {"type": "json_object"}


def test_reasoning_text_and_a_tool_call_are_output_items_with_their_events() -> None:
    stream = ResponsesStream("resp_" + "0" * 32, echoed_fields(request(input="hi"), "m"))
    events = stream.start()
    events += stream.feed({"choices": [{"delta": {"reasoning_content": "The user wants"}}]})
    events += stream.feed({"choices": [{"delta": {"reasoning_content": " f."}}]})
    events += stream.feed({"choices": [{"delta": {"content": "Let me"}}]})
    events += stream.feed({"choices": [{"delta": {"content": " look."}}]})
    events += stream.feed({"choices": [{"delta": {"tool_calls": [
        {"index": 0, "id": "call_1", "function": {"name": "f", "arguments": '{"a"'}}]}}]})  # fmt: skip
    events += stream.feed({"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]},
                                        "finish_reason": "tool_calls"}]})  # fmt: skip
    events += stream.finish(5, 4)
    assert [event["type"] for event in events] == [
        "response.created", "response.in_progress",
        "response.output_item.added", "response.reasoning_text.delta", "response.reasoning_text.delta",
        "response.reasoning_text.done", "response.output_item.done",
        "response.output_item.added", "response.content_part.added",
        "response.output_text.delta", "response.output_text.delta",
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.delta",
        "response.function_call_arguments.done", "response.output_item.done",
        "response.completed",
    ]  # fmt: skip
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    reasoning, message, call = events[-1]["response"]["output"]
    assert reasoning["type"] == "reasoning" and reasoning["content"] == [{"type": "reasoning_text", "text": "The user wants f."}]
    assert message["content"][0]["text"] == "Let me look." and message["status"] == "completed"
    assert (call["call_id"], call["name"], call["arguments"]) == ("call_1", "f", '{"a":1}')
    assert events[-1]["response"]["usage"]["total_tokens"] == 9
    assert events[0]["response"]["status"] == "in_progress" and events[0]["response"]["output"] == []


def test_items_keep_only_what_the_engine_is_shown() -> None:
    """What is stored for previous_response_id: no reasoning item, no field beyond the schema's."""
    parsed = request(input=[
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "padding"},
        {"role": "user", "extra": "padding", "content": [
            {"type": "input_text", "text": "Look.", "extra": "padding"},
            {"type": "input_image", "image_url": "data:image/png;base64,AA", "detail": "low", "extra": "padding"},
        ]},
        {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f", "arguments": "{}", "extra": "padding"},
        {"type": "function_call_output", "call_id": "call_1", "output": [{"type": "input_text", "text": "ok", "extra": "x"}]},
    ])  # fmt: skip
    items = input_items(parsed)
    assert "padding" not in repr(items) and "extra" not in repr(items)
    assert [item["type"] for item in items] == ["message", "function_call", "function_call_output"]
    assert items[0]["content"] == [{"type": "input_text", "text": "Look."},
                                   {"type": "input_image", "image_url": "data:image/png;base64,AA", "detail": "low"}]  # fmt: skip
    assert items[1]["id"] == "fc_1" and items[2]["output"] == [{"type": "input_text", "text": "ok"}]


def test_namespaced_and_custom_calls_sent_back_reach_the_engine_under_its_flat_names() -> None:
    namespace = {"type": "namespace", "name": "agents", "tools": [{"type": "function", "name": "spawn", "parameters": {"type": "object"}}]}
    parsed = request(
        tools=[namespace, {"type": "custom", "name": "apply_patch"}, {"type": "web_search"}],
        input=[
            {"type": "function_call", "call_id": "c1", "name": "spawn", "namespace": "agents", "arguments": "{}"},
            {"type": "custom_tool_call", "call_id": "c2", "name": "apply_patch", "input": "*** Begin Patch"},
            {"type": "custom_tool_call_output", "call_id": "c2", "output": "done"},
        ],
        tool_choice={"type": "function", "name": "spawn", "namespace": "agents"},
    )
    payload = chat_request(parsed, "m", input_items(parsed))
    assert [tool["function"]["name"] for tool in payload["tools"]] == ["agents__spawn", "apply_patch"]
    assert payload["tool_choice"] == {"type": "function", "function": {"name": "agents__spawn"}}
    [assistant, output] = payload["messages"]
    assert [call["function"] for call in assistant["tool_calls"]] == [
        {"name": "agents__spawn", "arguments": "{}"}, {"name": "apply_patch", "arguments": '{"input": "*** Begin Patch"}'}]  # fmt: skip
    assert output == {"role": "tool", "tool_call_id": "c2", "content": "done"}
