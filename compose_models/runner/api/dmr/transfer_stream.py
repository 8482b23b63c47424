"""Registry pulls and pushes run in a worker thread, their progress streamed to the client as it happens.

Their threads are a pool of their own, so slow transfers cannot take the event loop's default executor
from the work that needs it (the scheduler, DNS look-ups of new connections). A transfer whose client
has gone stops at its next chunk: the partial blob stays, to be resumed, as after a killed pull.
"""

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from compose_models.errors import UserError
from compose_models.runner.errors import answer_for
from compose_models.runner.http.errors import storage_failure
from compose_models.store.transfer_progress import Advance, Transfers

Result = TypeVar("Result")
REPORT_EVERY_SECONDS = 0.1
REPORT_EVERY_BYTES = 1024 * 1024
TRANSFER_THREADS = 8  # transfers at once; more wait for a thread
_EXECUTOR = ThreadPoolExecutor(max_workers=TRANSFER_THREADS, thread_name_prefix="registry-transfer")


class TransferCancelled(Exception):
    """The client that asked for the transfer is gone."""


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


TransferEvent = LayerProgress | Finished[Any] | Failed


class _QueuedTransfers(Transfers):
    """Hands each blob transfer a callback that queues its progress, at most every 100 ms or 1 MiB."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, queue: "asyncio.Queue[TransferEvent]", cancelled: threading.Event
    ) -> None:
        super().__init__(None)
        self._loop = loop
        self._queue = queue
        self._cancelled = cancelled

    def _report(self, event: TransferEvent) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: the runner is stopping
            self._loop.call_soon_threadsafe(self._queue.put_nowait, event)

    def start(self, label: str, total: int, done: int = 0) -> Advance:
        if self._cancelled.is_set():
            raise TransferCancelled
        layer = label.split(" ", 1)[0]
        state = {"done": done, "reported": done, "at": time.monotonic()}  # bytes, bytes, seconds
        self._report(LayerProgress(layer, total, done))

        def advance(amount: int) -> None:
            if self._cancelled.is_set():
                raise TransferCancelled
            state["done"] += amount
            now = time.monotonic()
            if state["done"] >= total or now - state["at"] >= REPORT_EVERY_SECONDS or (
                state["done"] - state["reported"] >= REPORT_EVERY_BYTES
            ):
                state["reported"], state["at"] = state["done"], now
                self._report(LayerProgress(layer, total, int(state["done"])))

        return advance


async def run_transfer(work: Callable[[Transfers], Result]) -> AsyncGenerator[TransferEvent, None]:
    """Progress of ``work`` (given a Transfers to report through), then Finished or Failed."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[TransferEvent] = asyncio.Queue()
    cancelled = threading.Event()
    transfers = _QueuedTransfers(loop, queue, cancelled)

    def run() -> None:
        try:
            outcome: TransferEvent = Finished(work(transfers))
        except TransferCancelled:
            outcome = Failed("the client closed the request", 499)
        except UserError as error:  # the store's errors: the status is the runner's table's, the message the store's own
            outcome = Failed(str(error), answer_for(error).status)
        except OSError as error:  # writing the store: a full disk is a 507
            failure = storage_failure(error, "the transfer could not be written to the store")
            outcome = Failed(failure.message, failure.status)
        except Exception as error:  # a registry or disk failure mid-transfer is reported in the stream
            outcome = Failed(f"{type(error).__name__}: {error}", 500)
        transfers._report(outcome)

    worker = loop.run_in_executor(_EXECUTOR, run)
    try:
        while True:
            event = await queue.get()
            yield event
            if not isinstance(event, LayerProgress):
                await worker
                return
    finally:  # also when the client left (the generator is closed or cancelled): stop at the next chunk
        cancelled.set()


async def in_transfer_thread(work: Callable[[], Result]) -> Result:
    """``work()`` in a transfer thread: registry calls that have no progress to report."""
    return await asyncio.get_running_loop().run_in_executor(_EXECUTOR, work)


class TransferResponse(StreamingResponse):
    """Progress lines whose generator is closed however the response ends, so a client that left stops
    its transfer at once (Starlette only stops iterating)."""

    body_iterator: AsyncGenerator[bytes, None]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.body_iterator.aclose()
