"""Reranking: how relevant each document is to a query, from a reranker model (a cross-encoder whose GGUF
pools by rank, or one configured with ``--reranking``) on llama-server.

The engine's answer is taken apart and put back together here, so the order (most relevant first, ties by
index), ``top_n`` and the documents asked back do not depend on the engine's own handling of them.
"""

from dataclasses import dataclass

from starlette.requests import Request

from compose_models.runner.http.errors import ApiError
from compose_models.runner.inference.engine_call import engine_call, requested_model
from compose_models.runner.scheduling.scheduler import RERANKING
from compose_models.runner.services import services_of
from compose_models.runner.upstreams.remote_models import RemoteModel

ENGINE_PATH = "/v1/rerank"


@dataclass(frozen=True)
class Ranked:
    index: int
    relevance_score: float


@dataclass(frozen=True)
class Ranking:
    results: list[Ranked]  # most relevant first
    prompt_tokens: int


async def rerank(request: Request, model: str, query: str, documents: list[str]) -> Ranking:
    """Every document scored against ``query``, most relevant first; ApiError(400) when ``model`` is no reranker."""
    found = requested_model(request, model)
    if not isinstance(found, RemoteModel):
        scheduler = services_of(request).scheduler
        refusal = scheduler.rerank_refusal(found, model)
        if refusal is not None:
            raise ApiError(400, refusal, param="model", code="model_not_reranker")
    payload = {"model": model, "query": query, "documents": documents, "top_n": len(documents)}
    try:
        async with engine_call(request, payload, ENGINE_PATH, RERANKING) as call:
            answer = await call.read_whole(call.json())
    except ApiError as error:
        if error.status == 500 and "too large to process" in error.message:  # llama-server's 500 for the caller's input
            raise ApiError(400, f"a document with the query is more than {model!r} reads in one pass: {error.message} "
                                "(configure a larger --ubatch-size and --batch-size, or shorten it)",
                           param="documents") from None  # fmt: skip
        raise
    results = [_ranked(item, len(documents)) for item in answer.get("results") or []]
    if sorted(result.index for result in results) != list(range(len(documents))):
        raise ApiError(502, f"the engine for {model!r} did not score each of the {len(documents)} documents once")
    results.sort(key=lambda result: (-result.relevance_score, result.index))
    usage = answer.get("usage") or {}
    return Ranking(results, int(usage.get("prompt_tokens") or usage.get("total_tokens") or 0))


def _ranked(item: object, count: int) -> Ranked:
    if not isinstance(item, dict):
        raise ApiError(502, "the engine's rerank answer has a result that is not an object")
    index, score = item.get("index"), item.get("relevance_score", item.get("score"))
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < count:
        raise ApiError(502, f"the engine's rerank answer has an index out of range: {index!r}")
    if not isinstance(score, (int, float)) or isinstance(score, bool):
        raise ApiError(502, f"the engine's rerank answer has a score that is not a number: {score!r}")
    return Ranked(index, float(score))
