"""What writing the Anthropic and Responses dialects' server-sent events costs: ``json.dumps`` (the
standard library) against ``orjson.dumps``, on the events those dialects' own translators make of a
streamed answer, in one process.

The events are made once, by ``AnthropicStream`` and ``ResponsesStream`` fed OpenAI chunks as an engine
streams them (one token each: English words, some non-ASCII text, a tool call's arguments), so the
shapes, sizes and the Responses dialect's growing final snapshot are the real ones; then each encoder
writes every event as a frame (``event: NAME\\ndata: JSON\\n\\n``), ``--rounds`` times, and the best
round counts.

    .venv/bin/python bench/event_encoding.py [--tokens 500] [--rounds 7]

Prints each dialect's µs per event for each encoder and orjson's speed-up (json's time / orjson's).
"""

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from typing import Any

import orjson

from compose_models.runner.api.anthropic.stream import AnthropicStream
from compose_models.runner.api.responses.stream import ResponsesStream

WORDS = ["The", " lighthouse", " keeper", " counted", " waves", ",", " café", " naïve", " 灯台", " 🌊", "."]


def _chunks(tokens: int) -> list[dict[str, Any]]:
    """An engine's stream: ``tokens`` text chunks, a tool call in eight pieces, the last chunk."""
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    chunks = [chunk({"content": WORDS[index % len(WORDS)]}) for index in range(tokens)]
    arguments = json.dumps({"path": "src/lighthouse.py", "line": 42, "note": "räumen"})
    pieces = [arguments[start : start + 8] for start in range(0, len(arguments), 8)]
    chunks.append(chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                         "function": {"name": "open_file", "arguments": pieces[0]}}]}))  # fmt: skip
    chunks += [chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}) for piece in pieces[1:]]
    chunks.append(chunk({}, "tool_calls"))
    return chunks


def anthropic_events(chunks: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    stream = AnthropicStream("local/smollm2", [])
    events = stream.start(24)
    for chunk in chunks:
        events += stream.feed(chunk)
    return events + stream.finish(24, len(chunks))


def responses_events(chunks: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    stream = ResponsesStream("resp_1", {"model": "local/smollm2", "instructions": None, "tools": []})
    events = stream.start()
    for chunk in chunks:
        events += stream.feed(chunk)
    events += stream.finish(24, len(chunks))
    return [(event["type"], event) for event in events]


def with_json(event: str, payload: object) -> bytes:
    return f"event: {event}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()


def with_orjson(event: str, payload: object) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def best_round(encode: Callable[[str, object], bytes], events: list[tuple[str, Any]], rounds: int) -> float:
    """Seconds for the fastest of ``rounds`` passes over ``events``."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for name, payload in events:
            encode(name, payload)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=7)
    options = parser.parse_args()
    chunks = _chunks(options.tokens)
    print(f"# {platform.node()}: {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
          f"orjson {orjson.__version__}; {options.tokens} tokens, best of {options.rounds} rounds")  # fmt: skip
    print("\n| dialect | events | json µs/event | orjson µs/event | json / orjson |")
    print("|---|---|---|---|---|")
    for dialect, events in (("anthropic", anthropic_events(chunks)), ("responses", responses_events(chunks))):
        for name, payload in events:  # the same JSON either way, whatever the escaping
            assert json.loads(with_orjson(name, payload).split(b"data: ", 1)[1]) == json.loads(with_json(name, payload).split(b"data: ", 1)[1])
        slow, fast = best_round(with_json, events, options.rounds), best_round(with_orjson, events, options.rounds)
        count = len(events)
        print(f"| {dialect} | {count} | {slow / count * 1e6:.2f} | {fast / count * 1e6:.2f} | {slow / fast:.1f}x |")


if __name__ == "__main__":
    main()
