"""Registry pulls and pushes run in a worker thread, their progress streamed to the client as it happens."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from compose_models.errors import UserError
from compose_models.store.registry_client import RegistryNotFound
from compose_models.store.store import ModelNotFound
from compose_models.store.transfer_progress import Advance, Transfers

Result = TypeVar("Result")
REPORT_EVERY_SECONDS = 0.1
REPORT_EVERY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class LayerProgress:
    layer: str  # the short digest the store names the blob by
    total: int
    done: int


@dataclass(frozen=True)
class Finished(Generic[Result]):
    result: Result


@dataclass(frozen=True)
class Failed:
    message: str
    status: int  # what an HTTP answer would say, had the stream not started yet


TransferEvent = LayerProgress | Finished | Failed


class _QueuedTransfers(Transfers):
    """Hands each blob transfer a callback that queues its progress, at most every 100 ms or 1 MiB."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: "asyncio.Queue[TransferEvent]") -> None:
        super().__init__(None)
        self._loop = loop
        self._queue = queue

    def _report(self, event: TransferEvent) -> None:
        self._loop.call_soon_threadsafe(self._queue.put_nowait, event)

    def start(self, label: str, total: int, done: int = 0) -> Advance:
        layer = label.split(" ", 1)[0]
        state = {"done": done, "reported": done, "at": time.monotonic()}
        self._report(LayerProgress(layer, total, done))

        def advance(amount: int) -> None:
            state["done"] += amount
            now = time.monotonic()
            if state["done"] >= total or now - state["at"] >= REPORT_EVERY_SECONDS or (
                state["done"] - state["reported"] >= REPORT_EVERY_BYTES
            ):
                state["reported"], state["at"] = state["done"], now
                self._report(LayerProgress(layer, total, state["done"]))

        return advance


async def run_transfer(work: Callable[[Transfers], Result]) -> AsyncIterator[TransferEvent]:
    """Progress of ``work`` (given a Transfers to report through), then Finished or Failed."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[TransferEvent] = asyncio.Queue()
    transfers = _QueuedTransfers(loop, queue)

    def run() -> None:
        try:
            outcome: TransferEvent = Finished(work(transfers))
        except (RegistryNotFound, ModelNotFound) as error:
            outcome = Failed(str(error), 404)
        except UserError as error:
            outcome = Failed(str(error), 400)
        except Exception as error:  # a registry or disk failure mid-transfer is reported in the stream
            outcome = Failed(f"{type(error).__name__}: {error}", 500)
        loop.call_soon_threadsafe(queue.put_nowait, outcome)

    worker = loop.run_in_executor(None, run)
    while True:
        event = await queue.get()
        yield event
        if not isinstance(event, LayerProgress):
            await worker
            return
