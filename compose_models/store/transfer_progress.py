"""A rich progress display for blob transfers: one bar per layer, with sizes, speed and time left."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

Advance = Callable[[int], None]


class Transfers:
    """Hands each blob transfer a callback to report bytes moved; silent when ``display`` is None."""

    def __init__(self, display: Progress | None) -> None:
        self._display = display

    def start(self, label: str, total: int, done: int = 0) -> Advance:
        if self._display is None:
            return lambda amount: None
        task = self._display.add_task(label, total=total, completed=done)
        display = self._display
        return lambda amount: display.advance(task, amount)


@contextmanager
def transfer_display(console: Console | None = None) -> Iterator[Transfers]:
    """Live bars on a terminal (stderr by default); nothing when output is not a terminal."""
    console = console or Console(stderr=True)
    if not console.is_terminal:
        yield Transfers(None)
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as display:
        yield Transfers(display)


SILENT = Transfers(None)
