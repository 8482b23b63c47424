"""Ask the model one question through llm-gateway, with this app's own API key, and print the answer.

Exits non-zero when no answer came: a wrong key (401), a limit reached (429) or an unreachable gateway."""

import os
import sys

from openai import OpenAI, OpenAIError

QUESTION = "Name one colour of the sky."


def main() -> int:
    url, model = os.environ["LLM_URL"], os.environ["LLM_MODEL"]
    client = OpenAI(base_url=url, api_key=os.environ["LLM_API_KEY"], max_retries=0)
    print(f"app: asking {model} through {url}: {QUESTION}", flush=True)
    try:
        reply = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": QUESTION}], max_tokens=32
        )
    except OpenAIError as error:
        print(f"app: no answer from the gateway: {error}", file=sys.stderr)
        return 1
    answer = (reply.choices[0].message.content or "").strip()
    if not answer:
        print("app: the gateway answered, but with an empty message", file=sys.stderr)
        return 1
    print(f"app: answer: {answer}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
