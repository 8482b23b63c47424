"""A tool-use loop: ask the model a question it can only answer with the inventory service's help, run the
tool calls it makes against that service over HTTP, send back the results, and print its final answer.

The model is reached through the Anthropic SDK at the runner's /anthropic/v1 API. LLM_URL and LLM_MODEL come
from the stack's `models:` binding; INVENTORY_URL is the tool service. Exits non-zero when no answer came."""

import os
import sys
from typing import Any
from urllib.parse import urlsplit

import httpx
from anthropic import Anthropic, AnthropicError

QUESTION = "How many gears are in stock?"
MAX_TURNS = 4  # model replies per question: the first calls the tool, the last must answer in words
MAX_TOKENS = 64
TEMPERATURE = 0.0  # the likeliest item and words: a tool-using agent wants the same call for the same question


def anthropic_base_url(llm_url: str) -> str:
    """LLM_URL is the runner's OpenAI base (http://host:port/engines/v1/); its Anthropic API is on the same
    host under /anthropic, to which the SDK adds /v1/messages."""
    parts = urlsplit(llm_url)
    return f"{parts.scheme}://{parts.netloc}/anthropic"


def stock_tool(items: list[str]) -> dict[str, Any]:
    """The tool as the model sees it. The enum comes from the service, so the model can only name an item
    the inventory knows."""
    return {
        "name": "stock",
        "description": "Look up how many units of an item are in stock.",
        "input_schema": {
            "type": "object",
            "properties": {"item": {"type": "string", "enum": items, "description": "the item to look up"}},
            "required": ["item"],
        },
    }


def run_stock(inventory: httpx.Client, call: Any) -> dict[str, Any]:
    """Answer one tool_use block with a tool_result, calling the inventory service with the model's argument."""
    item = call.input.get("item") if isinstance(call.input, dict) else None
    if call.name != "stock" or not isinstance(item, str) or not item:
        error = f"the model called {call.name}({call.input!r}); expected stock(item=...)"
        print(f"agent: tool call rejected: {error}", flush=True)
        return {"type": "tool_result", "tool_use_id": call.id, "content": error, "is_error": True}
    response = inventory.get("/stock", params={"item": item})
    if response.status_code == 404:  # an item the inventory does not know: the model hears so, and may retry
        error = response.json()["error"]
        print(f"agent: tool inventory.stock(item={item!r}) -> {error}", flush=True)
        return {"type": "tool_result", "tool_use_id": call.id, "content": error, "is_error": True}
    response.raise_for_status()
    count = response.json()["stock"]
    print(f"agent: tool inventory.stock(item={item}) -> {count}", flush=True)
    return {"type": "tool_result", "tool_use_id": call.id, "content": f"{count} {item} in stock"}


def as_param(block: Any) -> dict[str, Any] | None:
    """A reply's content block as it is sent back in the conversation (empty text is left out)."""
    if block.type == "tool_use":
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    if block.type == "text" and block.text:
        return {"type": "text", "text": block.text}
    return None


def main() -> int:
    url, model = os.environ["LLM_URL"], os.environ["LLM_MODEL"]
    base_url = anthropic_base_url(url)
    inventory = httpx.Client(base_url=os.environ.get("INVENTORY_URL", "http://inventory:8000"), timeout=10)
    # The runner needs no key unless it was started with keys; then give this service one in `environment:`.
    client = Anthropic(base_url=base_url, api_key=os.environ.get("LLM_API_KEY", "unused"), max_retries=0, timeout=120)
    try:
        items = inventory.get("/items").raise_for_status().json()["items"]
    except httpx.HTTPError as error:
        print(f"agent: the inventory service did not answer: {error}", file=sys.stderr)
        return 1
    tools = [stock_tool(items)]
    print(f"agent: asking {model} at {base_url}: {QUESTION}", flush=True)
    messages: list[dict[str, Any]] = [{"role": "user", "content": QUESTION}]
    for turn in range(MAX_TURNS):
        # The first turn names the tool: a small model may not call one on its own, and a named tool holds
        # its arguments to the schema. Then the model chooses; the last turn must answer in words.
        if turn == 0:
            choice = {"type": "tool", "name": "stock"}
        else:
            choice = {"type": "none"} if turn == MAX_TURNS - 1 else {"type": "auto"}
        try:
            reply = client.messages.create(
                model=model, max_tokens=MAX_TOKENS, messages=messages, tools=tools, tool_choice=choice,
                # in the body as the API has it: the SDK's own temperature argument comes and goes by version
                extra_body={"temperature": TEMPERATURE},
            )
        except AnthropicError as error:
            print(f"agent: no answer from the runner: {error}", file=sys.stderr)
            return 1
        calls = [block for block in reply.content if block.type == "tool_use"]
        if not calls:
            answer = "".join(block.text for block in reply.content if block.type == "text").strip()
            if not answer:
                print(f"agent: the runner answered, but with no text (stop reason {reply.stop_reason})", file=sys.stderr)
                return 1
            print(f"agent: answer: {answer}", flush=True)
            return 0
        messages.append({"role": "assistant", "content": [p for p in map(as_param, reply.content) if p]})
        try:
            messages.append({"role": "user", "content": [run_stock(inventory, call) for call in calls]})
        except httpx.HTTPError as error:
            print(f"agent: the inventory service failed: {error}", file=sys.stderr)
            return 1
    print(f"agent: no answer after {MAX_TURNS} turns", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
