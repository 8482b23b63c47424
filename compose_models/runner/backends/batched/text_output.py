"""Generated tokens to text a client may see: whole UTF-8 characters, cut at the first stop string.

A token can end inside a multi-byte character, so bytes go through an incremental decoder; text
that could be the start of a stop string is held back until the next token shows it is not.
"""

import codecs
from dataclasses import dataclass, field


@dataclass
class TextOutput:
    stops: tuple[str, ...] = ()
    text: str = ""  # everything decoded so far, up to a stop string
    released: int = 0  # how much of ``text`` has been handed out
    stopped: bool = False
    _decoder: codecs.IncrementalDecoder = field(default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace"))

    def add(self, piece: bytes) -> str:
        """Take one token's bytes; return the text now safe to send (maybe empty)."""
        if self.stopped:
            return ""
        searched_from = max(0, len(self.text) - max((len(stop) for stop in self.stops), default=0))
        self.text += self._decoder.decode(piece)
        cut = min((index for stop in self.stops if (index := self.text.find(stop, searched_from)) >= 0), default=-1)
        if cut >= 0:
            self.text = self.text[:cut]
            self.stopped = True
            return self._release(len(self.text))
        return self._release(len(self.text) - self._possible_stop_start())

    def finish(self) -> str:
        """The text held back, once no token follows."""
        if not self.stopped:
            self.text += self._decoder.decode(b"", final=True)
        return self._release(len(self.text))

    def _possible_stop_start(self) -> int:
        """The length of the longest end of ``text`` that a stop string begins with."""
        longest = 0
        for stop in self.stops:
            for length in range(min(len(stop) - 1, len(self.text)), longest, -1):
                if self.text.endswith(stop[:length]):
                    longest = length
                    break
        return longest

    def _release(self, upto: int) -> str:
        upto = max(upto, self.released)
        released, self.released = self.text[self.released : upto], upto
        return released
