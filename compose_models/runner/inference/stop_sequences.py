"""Finding stop sequences in streamed text without ever emitting part of one.

Text that could still be the start of a stop sequence is held back until the next piece shows
whether it is; everything else is passed on at once.
"""

from dataclasses import dataclass, field


@dataclass
class StopSequenceWatch:
    sequences: list[str]
    matched: str | None = None
    _held: str = field(default="", init=False)

    def feed(self, text: str) -> str:
        """The part of ``text`` that is safe to emit; after a match, the text before it, and nothing more."""
        if self.matched is not None:
            return ""
        pending = self._held + text
        first = min(
            ((pending.find(sequence), sequence) for sequence in self.sequences if sequence in pending), default=None
        )
        if first is not None:
            self.matched, self._held = first[1], ""
            return pending[: first[0]]
        keep = max((overlap(pending, sequence) for sequence in self.sequences), default=0)
        self._held = pending[len(pending) - keep :] if keep else ""
        return pending[: len(pending) - keep]

    def flush(self) -> str:
        """What was held back, once the text has ended without a match."""
        held, self._held = self._held, ""
        return held


def overlap(text: str, sequence: str) -> int:
    """The length of the longest end of ``text`` that begins ``sequence``."""
    for size in range(min(len(text), len(sequence) - 1), 0, -1):
        if sequence.startswith(text[-size:]):
            return size
    return 0
