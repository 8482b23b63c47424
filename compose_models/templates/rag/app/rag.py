"""Answer a question from the files in ./docs: embed each file, embed the question, take the nearest file
by cosine similarity and ask the chat model with that file as the context. Prints the answer and the file.

EMBEDDINGS_URL/EMBEDDINGS_MODEL and CHAT_URL/CHAT_MODEL come from the stack's `models:` bindings. The
question is the command's arguments, else $QUESTION, else a default; DOCS_DIR overrides ./docs. Exits non-zero
when no answer came."""

import math
import os
import sys
from pathlib import Path

from openai import OpenAI, OpenAIError

DOCS = Path(os.environ.get("DOCS_DIR", "docs"))
DEFAULT_QUESTION = "How do I descale the coffee machine?"


def client(url: str) -> OpenAI:
    # The runner needs no key unless it was started with keys; then give this service one in `environment:`.
    return OpenAI(base_url=url, api_key=os.environ.get("LLM_API_KEY", "unused"), max_retries=0)


def cosine(a: list[float], b: list[float]) -> float:
    norms = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return sum(x * y for x, y in zip(a, b)) / norms if norms else 0.0


def index(embeddings: OpenAI, model: str, files: list[Path]) -> list[list[float]]:
    """One vector per file, kept in memory: the files are small, so each is embedded whole."""
    reply = embeddings.embeddings.create(model=model, input=[path.read_text() for path in files])
    return [item.embedding for item in sorted(reply.data, key=lambda item: item.index)]


def main() -> int:
    question = " ".join(sys.argv[1:]) or os.environ.get("QUESTION") or DEFAULT_QUESTION
    files = sorted(DOCS.glob("*.md"))
    if not files:
        print(f"rag: no .md files in {DOCS}/ to answer from", file=sys.stderr)
        return 1
    embed_model, chat_model = os.environ["EMBEDDINGS_MODEL"], os.environ["CHAT_MODEL"]
    embeddings, chat = client(os.environ["EMBEDDINGS_URL"]), client(os.environ["CHAT_URL"])
    try:
        vectors = index(embeddings, embed_model, files)
        print(f"rag: indexed {len(files)} files in {DOCS}/ with {embed_model}", flush=True)
        asked = embeddings.embeddings.create(model=embed_model, input=question).data[0].embedding
        scores = [cosine(asked, vector) for vector in vectors]
        best = max(range(len(files)), key=scores.__getitem__)
        for path, score in zip(files, scores):
            print(f"rag:   {score:.3f} {path}", flush=True)
        print(f"rag: question: {question}", flush=True)
        reply = chat.chat.completions.create(
            model=chat_model,
            messages=[
                {"role": "system", "content": "Answer the question in one sentence, using only this document:\n\n"
                 + files[best].read_text()},
                {"role": "user", "content": question},
            ],
            max_tokens=64,
        )  # fmt: skip
    except OpenAIError as error:
        print(f"rag: no answer from the runner: {error}", file=sys.stderr)
        return 1
    answer = (reply.choices[0].message.content or "").strip()
    if not answer:
        print("rag: the chat model answered, but with an empty message", file=sys.stderr)
        return 1
    print(f"rag: answer: {answer}", flush=True)
    print(f"rag: source: {files[best]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
