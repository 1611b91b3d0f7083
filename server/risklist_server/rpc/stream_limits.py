"""Open streaming calls per member and per worker, capped; a stream that stays idle is ended.

Python's grpc server ties one thread to every open streaming call. A worker's pool has
`threads` + `total` threads and at most `total` of them ever serve streams, so unary calls
(Check, BatchCheck...) always find a thread however many streams members hold open.
A stream is idle while the server waits for the client's next message, and while it waits for the client to take
its next response: a client that stops reading (a GetFilter download it never consumes, a process paused with its
connection open) leaves grpc's send blocked on HTTP/2 flow control, and would hold the slot and its thread for good.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator, Iterator
from typing import Any

import grpc
import structlog

from risklist_server.core.errors import StreamLimitReached
from risklist_server.rpc.call_cancel import end_call
from risklist_server.rpc.metrics import stream_closed, stream_opened

log = structlog.get_logger("risklist.access")

IDLE_STATUS = grpc.StatusCode.CANCELLED
"""What a caller sees when its stream is ended for idleness (docs/operations.md, "Connections and streams")."""


class OpenStream:
    """One admitted streaming call: whose it is, since when the server waits for its next message, and since when
    for the client to take the response the server is sending."""

    __slots__ = ("partner", "method", "context", "waiting_since", "sending_since", "idle_ended", "_closed")

    def __init__(self, partner: str, method: str, context: grpc.ServicerContext) -> None:
        self.partner = partner
        self.method = method
        self.context = context
        self.waiting_since: float | None = None
        """monotonic time the handler started waiting for the client's next message (None: not waiting)."""
        self.sending_since: float | None = None
        """monotonic time the handler gave grpc a response the client has not taken yet (None: not sending)."""
        self.idle_ended = False
        self._closed = False


class StreamLimits:
    """At most `per_member` open streams per partner and `total` in all (this worker); idle ones end.

    A request stream the server has waited on for `idle_seconds` without a message is
    cancelled with a message saying so (IDLE_STATUS).
    """

    def __init__(self, *, per_member: int, total: int, idle_seconds: float) -> None:
        self.per_member = per_member
        self.total = total
        self.idle_seconds = idle_seconds
        self._lock = threading.Lock()
        self._open: set[OpenStream] = set()
        self._per_partner: dict[str, int] = {}
        self._watchdog: threading.Thread | None = None

    def open_count(self, partner: str | None = None) -> int:
        """Streams open now, for `partner` or in all."""
        with self._lock:
            return len(self._open) if partner is None else self._per_partner.get(partner, 0)

    def admit(self, partner: str, method: str, context: grpc.ServicerContext) -> OpenStream:
        """Count a new stream of `partner`'s, or raise StreamLimitReached; it is released when the call ends."""
        with self._lock:
            held = self._per_partner.get(partner, 0)
            if held >= self.per_member:
                raise StreamLimitReached(partner, "member", self.per_member)
            if len(self._open) >= self.total:
                raise StreamLimitReached(partner, "server", self.total)
            stream = OpenStream(partner, method, context)
            self._open.add(stream)
            self._per_partner[partner] = held + 1
            stream_opened(partner)
            if self._watchdog is None:
                self._watchdog = threading.Thread(target=self._watch, name="stream-idle", daemon=True)
                self._watchdog.start()
        # Runs however the call ends (finished, failed, cancelled by either side).
        context.add_callback(lambda: self.release(stream))
        return stream

    def release(self, stream: OpenStream) -> None:
        """Stop counting `stream` (idempotent)."""
        with self._lock:
            if stream._closed:
                return
            stream._closed = True
            self._open.discard(stream)
            stream_closed(stream.partner)
            left = self._per_partner[stream.partner] - 1
            if left:
                self._per_partner[stream.partner] = left
            else:
                del self._per_partner[stream.partner]

    def watched(self, stream: OpenStream, requests: Iterator[Any]) -> Iterator[Any]:
        """`requests`, timing each wait for the client's next message; ends quietly once the stream is ended idle."""
        while True:
            stream.waiting_since = time.monotonic()
            try:
                request = next(requests)
            except StopIteration:
                return
            except grpc.RpcError:
                if stream.idle_ended:
                    return  # the caller has its status already
                raise
            finally:
                stream.waiting_since = None
            yield request

    def sent(self, stream: OpenStream, responses: Iterator[Any]) -> Generator[Any, None, None]:
        """`responses`, timing how long the client takes to accept each one (grpc resumes this generator once the
        response is sent, and blocks meanwhile while the client's flow-control window is full); closing this
        closes `responses` (a generator's `finally` runs at once, as with `yield from`)."""
        try:
            for response in responses:
                stream.sending_since = time.monotonic()
                yield response
                stream.sending_since = None
        finally:
            stream.sending_since = None
            close = getattr(responses, "close", None)
            if close is not None:
                close()

    def _watch(self) -> None:
        interval = min(1.0, self.idle_seconds / 4)
        while True:
            time.sleep(interval)
            cutoff = time.monotonic() - self.idle_seconds
            with self._lock:
                idle = [stream for stream in self._open if not stream.idle_ended and _idle_since(stream, cutoff)]
                for stream in idle:
                    stream.idle_ended = True
            for stream in idle:
                reading = stream.sending_since is not None
                log.info("stream_idle_ended", partner=stream.partner, method=stream.method,
                         idle_seconds=self.idle_seconds, waiting_for="client to read" if reading else "message")
                end_call(stream.context, IDLE_STATUS, _idle_message(self.idle_seconds, reading))


def _idle_since(stream: OpenStream, cutoff: float) -> bool:
    """Whether `stream` has waited since `cutoff` or earlier for a message, or for the client to take a response."""
    return any(since is not None and since <= cutoff for since in (stream.waiting_since, stream.sending_since))


def _idle_message(idle_seconds: float, reading: bool) -> str:
    if reading:
        return (f"the client took no response on this stream for {idle_seconds:g} s; the server ends streams whose "
                "client stops reading (stream_idle_seconds): read a stream's responses as they come")
    return (f"no message on this stream for {idle_seconds:g} s; the server ends idle streams (stream_idle_seconds): "
            "open a new one when you have subjects to check")

