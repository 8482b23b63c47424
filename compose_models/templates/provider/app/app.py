"""Ask the model that the `llm` provider service started one question, and print the answer.

LLM_URL and LLM_MODEL come from the provider (<SERVICE>_URL, <SERVICE>_MODEL for a service named `llm`).
Exits non-zero when no answer came."""

import os
import sys

from openai import OpenAI, OpenAIError

QUESTION = "Name one colour of the sky."


def main() -> int:
    url, model = os.environ["LLM_URL"], os.environ["LLM_MODEL"]
    # The runner needs no key unless it was started with keys; then give this service one in `environment:`.
    client = OpenAI(base_url=url, api_key=os.environ.get("LLM_API_KEY", "unused"), max_retries=0)
    print(f"app: asking {model} at {url}: {QUESTION}", flush=True)
    try:
        reply = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": QUESTION}], max_tokens=32
        )
    except OpenAIError as error:
        print(f"app: no answer from the runner: {error}", file=sys.stderr)
        return 1
    answer = (reply.choices[0].message.content or "").strip()
    if not answer:
        print("app: the runner answered, but with an empty message", file=sys.stderr)
        return 1
    print(f"app: answer: {answer}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
