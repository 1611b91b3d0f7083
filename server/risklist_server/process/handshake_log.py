"""Failed TLS handshakes, counted from grpc core's own log lines on this worker's stderr.

grpc gives Python no callback or counter for a handshake that fails, but its core logs each one
("Handshake failed with error SSL_ERROR_SSL: …") to file descriptor 2. A worker therefore
points descriptor 2 at a pipe and relays every byte to the real stderr from a thread, counting
those lines on the way (`risklist_tls_handshakes_failed_total`). Nothing is dropped or reordered;
`stop` puts descriptor 2 back and relays what is left before the process exits.
"""

from __future__ import annotations

import os
import threading

from prometheus_client import Counter

MARKER = b"Handshake failed"
"""What grpc core's ssl_transport_security logs for each failed handshake."""

FAILED = Counter("risklist_tls_handshakes_failed_total",
                 "TLS handshakes on the partner and admin ports that failed (no, or no valid, client certificate; "
                 "not TLS at all), as grpc core logged them.")


class HandshakeLog:
    """Relays this process's stderr through a pipe, counting grpc's failed-handshake lines."""

    def __init__(self) -> None:
        self._original: int | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> HandshakeLog:
        read_end, write_end = os.pipe()
        self._original = os.dup(2)
        os.dup2(write_end, 2)
        os.close(write_end)
        self._thread = threading.Thread(target=_relay, args=(read_end, self._original), name="stderr-relay",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Put the real stderr back on descriptor 2 and relay everything written before (waits for it)."""
        if self._original is None or self._thread is None:
            return
        os.dup2(self._original, 2)  # the pipe's last writer is gone: the relay reads to its end
        self._thread.join()
        os.close(self._original)
        self._original, self._thread = None, None


def _relay(read_end: int, destination: int) -> None:
    tail = b""
    try:
        while data := os.read(read_end, 65536):
            _write_all(destination, data)
            window = tail + data
            count = window.count(MARKER)
            if count:
                FAILED.inc(count)
            # Keep what could begin a marker split across two reads (too short to hold a whole one).
            tail = window[-(len(MARKER) - 1):]
    finally:
        os.close(read_end)


def _write_all(destination: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(destination, view)
        view = view[written:]
