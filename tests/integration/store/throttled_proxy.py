"""A loopback TCP forwarder to a real registry that slows downloads and records what clients send.

Slow enough that a test can kill a pull while a blob is half written; the recorded request bytes
show which headers (e.g. ``Range``) a client sent. Plain HTTP only, as the test registry speaks.
"""

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

_CHUNK = 64 * 1024


class ThrottledProxy:
    def __init__(self, upstream: str, bytes_per_second: int) -> None:
        host, port = upstream.rsplit(":", 1)
        self._upstream = (host, int(port))
        self._bytes_per_second = bytes_per_second
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._sent: list[bytes] = []
        self._lock = threading.Lock()

    @property
    def requests_text(self) -> str:
        """Everything clients sent so far (request lines and headers; bodies too, if any)."""
        with self._lock:
            return b"".join(self._sent).decode("latin-1")

    def serve_forever(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed
                return
            upstream = socket.create_connection(self._upstream)
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def close(self) -> None:
        self._listener.close()

    def _pump(self, source: socket.socket, destination: socket.socket, from_client: bool) -> None:
        try:
            while data := source.recv(_CHUNK):
                if from_client:
                    with self._lock:
                        self._sent.append(data)
                else:
                    time.sleep(len(data) / self._bytes_per_second)
                destination.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, destination):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                end.close()


@contextmanager
def throttled_proxy(upstream: str, bytes_per_second: int) -> Iterator[ThrottledProxy]:
    proxy = ThrottledProxy(upstream, bytes_per_second)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        yield proxy
    finally:
        proxy.close()
