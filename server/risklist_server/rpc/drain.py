"""A worker's calls in flight and its servers' stop: every call it started is audited before its audit closes.

On SIGTERM a worker lets calls finish for --grace seconds; then grpc cancels those left, and their
callers get UNAVAILABLE, but the handlers' threads run on until they return. `Drain` knows when
the grace runs out (a call ended after it ended by the stop), counts the calls whose RPC logs are
open, waits a little for them after the servers stopped, and records the ones still running as
cut off, so the audit trail is closed after the last of them. A kill -9 is beyond it.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

import grpc
import structlog

log = structlog.get_logger("risklist.server")

DEADLINE_SLACK_SECONDS = 0.1
"""A call cut off this close to its deadline ended by it: the caller's clock started before the request
reached the server, so its deadline passes first and its cancellation arrives a little before the server's."""
FINISH_SECONDS = 5.0
"""How long a worker waits, once its servers stopped, for handlers grpc cancelled to return (well within the
supervisor's 15 s before it kills a worker that has not exited)."""


class OpenCall(Protocol):
    """A call's RPC log, as the drain sees it."""

    def abandon(self, status: str) -> None:
        """Audit what the call's open entry holds so far with `status`; anything it appends later is dropped."""


class Drain:
    """This process's calls in flight, and when its servers' grace ran out."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        """Held by an RPC log while it takes its open entry, so a call is never audited twice."""
        self._idle = threading.Condition(self.lock)
        self._open: set[OpenCall] = set()
        self._cut_off_at: float | None = None

    def stopping(self, grace: float) -> None:
        """The servers are being stopped with `grace`: calls still running after it are ended by grpc."""
        self._cut_off_at = time.monotonic() + grace

    def ended_by_stop(self) -> bool:
        """Whether the grace has run out (grpc has cancelled, or is cancelling, every call left)."""
        cut_off_at = self._cut_off_at
        return cut_off_at is not None and time.monotonic() >= cut_off_at

    def opened(self, call: OpenCall) -> None:
        with self.lock:
            self._open.add(call)

    def closed(self, call: OpenCall) -> None:
        with self.lock:
            self._open.discard(call)
            if not self._open:
                self._idle.notify_all()

    def open_count(self) -> int:
        """Calls whose handlers are still running."""
        with self.lock:
            return len(self._open)

    def finish(self, timeout: float = FINISH_SECONDS) -> int:
        """Once the servers stopped: wait up to `timeout` s for the handlers still running, then audit each call
        left as cut off (UNAVAILABLE, what its caller got); how many were left."""
        with self.lock:
            self._idle.wait_for(lambda: not self._open, timeout)
            left, self._open = self._open, set()
        for call in left:
            call.abandon("UNAVAILABLE")
        if left:
            log.warning("calls_unfinished_at_stop", calls=len(left), waited_s=timeout)
        return len(left)


def ended_status(context: grpc.ServicerContext, drain: Drain | None) -> str:
    """What the caller of a call that ended under the server got: its deadline; UNAVAILABLE once the server's
    grace ran out (grpc cancelled every call left); else a cancellation (grpc reports a message it refused as
    too large, RESOURCE_EXHAUSTED to the caller, as a cancellation too)."""
    remaining = context.time_remaining()
    if remaining is not None and remaining <= DEADLINE_SLACK_SECONDS:
        return "DEADLINE_EXCEEDED"
    if drain is not None and drain.ended_by_stop():
        return "UNAVAILABLE"
    return "CANCELLED"
