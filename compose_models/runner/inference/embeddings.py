"""Embeddings: one vector per input, whatever the engine returns.

llama-cpp-python's server returns one vector per token for models without a pooling layer (such as
chat models run in embedding mode); those are mean-pooled here and scaled to unit length, as
llama-server does with its default pooling.
"""

import base64
import math
import struct
from dataclasses import dataclass
from typing import cast

from starlette.requests import Request

from compose_models.runner.inference.engine_call import engine_call
from compose_models.runner.scheduling.scheduler import EMBEDDING

Vector = list[float]


@dataclass(frozen=True)
class Embeddings:
    vectors: list[Vector]
    prompt_tokens: int


async def embed(request: Request, model: str, inputs: list[str]) -> Embeddings:
    async with engine_call(request, {"model": model, "input": inputs}, "/v1/embeddings", EMBEDDING) as call:
        answer = await call.read_whole(call.json())
    items = sorted(answer.get("data") or [], key=lambda item: item.get("index", 0))
    usage = answer.get("usage") or {}
    return Embeddings([pooled(item["embedding"]) for item in items], int(usage.get("prompt_tokens") or 0))


def pooled(embedding: Vector | list[Vector]) -> Vector:
    if not embedding or not isinstance(embedding[0], list):
        return cast(Vector, embedding)
    width = len(embedding[0])
    mean = [sum(token[i] for token in embedding) / len(embedding) for i in range(width)]
    norm = math.sqrt(sum(value * value for value in mean)) or 1.0
    return [value / norm for value in mean]


def as_base64(vector: Vector) -> str:
    """OpenAI's ``encoding_format: base64``: little-endian float32s."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
