"""Atheris fuzzer of the request parsers. Raw bytes, JSON built from a route's own field names, and
mutations of a valid request of the route go through what its handler does before it calls an
engine: the body parser (``parse_object``), the route's pydantic model (``validated``), the
translation to the engine's request, and the JSON sent to the engine. A refusal (``ApiError``, a
``UserError``) is the expected answer to bad input; any other exception, or an engine request that
is not strict JSON, is a finding.

Findings do not stop the run: each kind (exception and place) is printed once, as a FINDING line
with its traceback, and its input written to $FUZZ_FINDINGS_DIR (./fuzz-findings by default).
libFuzzer's final stats (-print_final_stats=1) give the executions.

    .venv/bin/python fuzz/request_parsers.py -max_total_time=300 -print_final_stats=1 [corpus_dir]
"""

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import atheris

with atheris.instrument_imports(include=["compose_models"]):
    import pydantic

    from compose_models.errors import UserError
    from compose_models.runner.api.anthropic.schema import CountTokensRequest, MessagesRequest
    from compose_models.runner.api.anthropic.stream import AnthropicStream
    from compose_models.runner.api.anthropic.translation import chat_request
    from compose_models.runner.api.dmr.schema import ConfigureRequest
    from compose_models.runner.api.ollama.routes import _seconds
    from compose_models.runner.api.ollama.schema import ChatRequest, GenerateRequest
    from compose_models.runner.api.ollama.translation import chat_payload, generate_payload
    from compose_models.runner.api.openai.schema import ChatCompletionRequest, CompletionRequest
    from compose_models.runner.api.responses.schema import ResponsesRequest
    from compose_models.runner.api.responses.translation import chat_request as responses_chat_request
    from compose_models.runner.api.responses.translation import echoed_fields, input_items
    from compose_models.runner.http.body import as_payload, parse_object, validated
    from compose_models.runner.http.errors import ApiError
    from compose_models.runner.inference.engine_payload import chat_payload_for_engine, completion_payload_for_engine
    from compose_models.runner.routes import ENDPOINTS

MODELS: list[type[pydantic.BaseModel]] = list(dict.fromkeys(e.body for e in ENDPOINTS if e.body is not None))
FINDINGS_DIR = Path(os.environ.get("FUZZ_FINDINGS_DIR", "fuzz-findings"))
ATOMS = ["", "m", "ai/smollm2", "user", "assistant", "system", "developer", "tool", "function", "text", "image_url",
         "tool_use", "tool_result", "json", "json_object", "json_schema", "auto", "none", "any", "required", "5m",
         "-1", "1h30m", "nan", "inf", "-inf", "1e999", "\ud800", "\x00", "{}", "--temp", "--ctx-size"]


def _vocabulary(model: type[pydantic.BaseModel]) -> list[str]:
    """Every property name, enum member and constant of the model's JSON schema (aliases included)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            found.extend(node.get("properties", {}))
            found.extend(str(value) for value in node.get("enum", []))
            if "const" in node:
                found.append(str(node["const"]))
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(model.model_json_schema())
    return list(dict.fromkeys(found))


VOCABULARIES = {model: _vocabulary(model) for model in MODELS}


def _value(fdp: atheris.FuzzedDataProvider, words: list[str], depth: int) -> Any:
    kind = fdp.ConsumeIntInRange(0, 9 if depth < 6 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return fdp.ConsumeBool()
    if kind == 2:
        return fdp.ConsumeIntInRange(-(2**70), 2**70) if fdp.ConsumeBool() else fdp.ConsumeIntInRange(-2, 70000)
    if kind == 3:
        return fdp.ConsumeRegularFloat()
    if kind in (4, 5):
        return fdp.PickValueInList(words)
    if kind == 6:
        return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 40))
    if kind in (7, 8):
        return {fdp.PickValueInList(words): _value(fdp, words, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 6))}
    return [_value(fdp, words, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 4))]


def _engine_request(model: type[pydantic.BaseModel], parsed: Any) -> Any:
    """What the route's handler makes of a valid request before it calls an engine (None: it calls none)."""
    if model is ChatCompletionRequest:
        return chat_payload_for_engine(as_payload(parsed))
    if model is CompletionRequest:
        return completion_payload_for_engine(as_payload(parsed))
    if model is MessagesRequest:
        AnthropicStream(parsed.model, parsed.stop_sequences or [])
        return chat_payload_for_engine({**chat_request(parsed), "stream": True})
    if model is CountTokensRequest:
        return chat_payload_for_engine({**chat_request(parsed), "max_tokens": 1})
    if model is ChatRequest:
        _seconds(parsed.keep_alive)
        return chat_payload_for_engine(chat_payload(parsed)) if parsed.messages else None
    if model is GenerateRequest:
        _seconds(parsed.keep_alive)
        _path, payload = generate_payload(parsed)
        return (chat_payload_for_engine if "messages" in payload else completion_payload_for_engine)(payload)
    if model is ResponsesRequest:
        echoed_fields(parsed, parsed.model or "m")
        return chat_payload_for_engine(responses_chat_request(parsed, parsed.model or "m", input_items(parsed)))
    if model is ConfigureRequest:
        return {"flags": parsed.flags, "keep_alive": parsed.keep_alive_seconds}
    return None  # the other handlers read fields of the parsed request, sending no request on


USER = {"role": "user", "content": "Hi"}
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "string"}}}}}
# A valid request of each model, to mutate: random bodies rarely get past the required fields
SEEDS: dict[type[pydantic.BaseModel], dict[str, Any]] = {
    ChatCompletionRequest: {"model": "m", "messages": [{"role": "system", "content": [{"type": "text", "text": "Be brief"}]},
                            USER, {"role": "assistant", "content": None, "tool_calls": [
                                {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                            {"role": "tool", "tool_call_id": "c", "content": "ok"}],
                            "tools": [TOOL], "tool_choice": "auto", "response_format": {"type": "json_object"},
                            "max_tokens": 4, "stream": True, "stream_options": {"include_usage": True}},
    CompletionRequest: {"model": "m", "prompt": "Hi", "max_tokens": 4, "stop": ["x"]},
    MessagesRequest: {"model": "m", "max_tokens": 4, "system": [{"type": "text", "text": "Be brief"}], "messages": [
        USER, {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {"a": "b"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "ok"}]}],
        "tools": [{"name": "f", "input_schema": {"type": "object"}}], "tool_choice": {"type": "auto"},
        "stop_sequences": ["x"]},
    CountTokensRequest: {"model": "m", "messages": [USER], "tools": [{"name": "f", "input_schema": {"type": "object"}}]},
    ChatRequest: {"model": "m", "messages": [{**USER, "images": ["iVBORw0KGgo="]}, {"role": "assistant", "content": "",
                  "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]}, {"role": "tool", "content": "ok"}],
                  "tools": [TOOL], "format": "json", "options": {"num_predict": 4, "temperature": 0.5, "stop": ["x"]},
                  "keep_alive": "5m", "stream": False},
    GenerateRequest: {"model": "m", "prompt": "Hi", "system": "Be brief", "images": ["iVBORw0KGgo="], "raw": False,
                      "format": {"type": "object"}, "options": {"num_predict": 4, "seed": 1}, "keep_alive": 0},
    ResponsesRequest: {"model": "m", "instructions": "Be brief", "input": [
        USER, {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hello"}]},
        {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c", "output": "ok"}],
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}], "tool_choice": "auto",
        "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}}},
        "max_output_tokens": 4, "metadata": {"k": "v"}, "stream": True},
    ConfigureRequest: {"model": "m", "context-size": 2048, "runtime-flags": ["--temp", "0.5"], "keep_alive": "5m"},
}  # fmt: skip


def _mutated(fdp: atheris.FuzzedDataProvider, body: Any, words: list[str]) -> Any:
    """``body`` with up to 4 changes, each somewhere in it: a key set, a member dropped, a value appended."""
    for _ in range(fdp.ConsumeIntInRange(1, 4)):
        containers = [body]
        for container in containers:
            containers.extend(c for c in (container.values() if isinstance(container, dict) else container)
                              if isinstance(c, (dict, list)))
        target = fdp.PickValueInList(containers)
        action = fdp.ConsumeIntInRange(0, 2)
        if action == 0 and isinstance(target, dict):
            target[fdp.PickValueInList(words)] = _value(fdp, words, 1)
        elif action == 0 and target:
            target[fdp.ConsumeIntInRange(0, len(target) - 1)] = _value(fdp, words, 1)
        elif action == 1 and target:
            victim = fdp.PickValueInList(list(target)) if isinstance(target, dict) else fdp.ConsumeIntInRange(0, len(target) - 1)
            del target[victim]
        elif isinstance(target, list):
            target.append(_value(fdp, words, 1))
    return body


def _body(fdp: atheris.FuzzedDataProvider, model: type[pydantic.BaseModel]) -> bytes:
    words = VOCABULARIES[model] + ATOMS
    way = fdp.ConsumeIntInRange(0, 3)
    if way == 0:
        return fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 4096))
    if way == 1:
        body = {fdp.PickValueInList(words): _value(fdp, words, 1) for _ in range(fdp.ConsumeIntInRange(0, 8))}
    else:
        body = _mutated(fdp, json.loads(json.dumps(SEEDS.get(model, {"model": "m"}))), words)
    return json.dumps(body, ensure_ascii=fdp.ConsumeBool()).encode("utf-8", "surrogatepass")


def _one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    model = MODELS[fdp.ConsumeIntInRange(0, len(MODELS) - 1)]
    raw = _body(fdp, model)
    try:
        payload, problem = parse_object(raw)
        if payload is None:
            assert isinstance(problem, str) and problem, "a refused body without a reason"
            return
        engine_request = _engine_request(model, validated(model, payload))
        if engine_request is not None:
            json.dumps(engine_request, allow_nan=False).encode()  # what an engine can read
    except (ApiError, UserError):
        return
    except Exception as error:
        _record(model, raw, error)


_seen: set[tuple[str, str]] = set()


def _record(model: type[pydantic.BaseModel], raw: bytes, error: Exception) -> None:
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if "compose_models" in frame.filename]
    where = f"{frames[-1].filename.split('compose_models/')[-1]}:{frames[-1].lineno}" if frames else "?"
    key = (type(error).__name__, where)
    if key in _seen:
        return
    _seen.add(key)
    FINDINGS_DIR.mkdir(exist_ok=True)
    (FINDINGS_DIR / f"finding-{len(_seen)}-{model.__name__}.json").write_bytes(raw)
    print(f"\nFINDING {len(_seen)}: {model.__name__}: {type(error).__name__} at {where}: {str(error)[:300]}\n"
          f"{''.join(traceback.format_exception(error))[-3000:]}", file=sys.stderr, flush=True)


def main(argv: list[str]) -> None:
    atheris.Setup(argv, _one_input)
    atheris.Fuzz()  # exits the process when done: the FINDING lines in its output are the count


if __name__ == "__main__":
    main(sys.argv)
