"""uvicorn's httptools protocol with a bound on a request's head, as h11 has (16 KiB).

httptools keeps a header's bytes until the header ends, however long it is, and uvicorn sets no limit of
its own: a client could grow the runner's memory with one endless header. Here the bytes received while
a request's head is incomplete are counted, and past ``HEAD_BYTES`` the client gets a 431 and is closed.
"""

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEAD_BYTES = 16 * 1024  # h11's max_incomplete_event_size, what uvicorn allowed before httptools

_TOO_LARGE = b"Request header fields too large"


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes: int | None = 0  # received of the coming request's head; None while its body comes
        self._events = 0  # heads and messages completed

    def data_received(self, data: bytes) -> None:
        events = self._events
        super().data_received(data)
        if self._head_bytes is None or self._events != events:  # a head ended in ``data``: the rest is one read
            return
        self._head_bytes += len(data)
        if self._head_bytes > HEAD_BYTES and not self.transport.is_closing():
            self.transport.write(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
                b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(_TOO_LARGE), _TOO_LARGE)
            )
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0

    def on_headers_complete(self) -> None:
        self._head_bytes, self._events = None, self._events + 1
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_bytes, self._events = 0, self._events + 1
