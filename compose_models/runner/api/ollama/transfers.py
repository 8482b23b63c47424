"""Ollama's answer to a registry pull or push: NDJSON status lines as it goes (``stream``, the default),
or one ``{"status": "success"}``; and the rule for ``insecure``, which both take."""

from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any

from starlette.responses import JSONResponse, Response

from compose_models.errors import UserError
from compose_models.runner.api.dmr.transfer_stream import (
    Failed,
    Finished,
    LayerProgress,
    TransferEvent,
    TransferResponse,
    run_transfer,
)
from compose_models.runner.http.errors import ApiError
from compose_models.runner.http.streams import json_line
from compose_models.store.reference import parse_reference
from compose_models.store.registry_client import is_loopback_registry
from compose_models.store.transfer_progress import Transfers


async def transfer_answer(
    work: Callable[[Transfers], object], stream: bool, opening: str, verb: str, closing: Sequence[str]
) -> Response:
    """Run ``work`` in a transfer thread: a line per layer's progress (``{verb} <digest>``) between the
    ``opening`` status and the ``closing`` ones, then ``success``; or the outcome alone without ``stream``."""
    events = run_transfer(work)
    if not stream:
        outcome = [event async for event in events][-1]
        if isinstance(outcome, Failed):
            raise ApiError(outcome.status, outcome.message)
        return JSONResponse({"status": "success"})
    return TransferResponse(_lines(events, opening, verb, closing), media_type="application/x-ndjson")


async def _lines(
    events: AsyncGenerator[TransferEvent, None], opening: str, verb: str, closing: Sequence[str]
) -> AsyncGenerator[bytes, None]:
    try:
        yield json_line({"status": opening})
        async for event in events:
            for status in _statuses(event, verb, closing):
                yield json_line(status)
    finally:
        await events.aclose()


def _statuses(event: TransferEvent, verb: str, closing: Sequence[str]) -> list[dict[str, Any]]:
    if isinstance(event, LayerProgress):
        return [{"status": f"{verb} {event.layer}", "digest": f"sha256:{event.layer}",
                 "total": event.total, "completed": event.done}]
    if isinstance(event, Failed):
        return [{"error": event.message}]
    assert isinstance(event, Finished)
    return [{"status": status} for status in (*closing, "success")]


def check_insecure(model: str, verb: str) -> None:
    """A request may not make a registry elsewhere plain HTTP: anyone who can reach the runner could
    then read or change what it transfers, and see the credentials it sends."""
    try:
        registry = parse_reference(model).registry
    except UserError as error:
        raise ApiError(400, str(error)) from None
    if not is_loopback_registry(registry):
        raise ApiError(
            400,
            f"insecure {verb}{'es' if verb.endswith('sh') else 's'} are refused here for {registry}, which is not on "
            f"this machine: plain HTTP is used for loopback registries only. To {verb} over plain HTTP anyway, run "
            f"`compose-models {verb} --insecure {model}`",
        )
