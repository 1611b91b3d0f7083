"""A node's side of the log: apply every entry in sequence order, and hand a local caller its own write's result.

One thread per node reads the log from the last sequence it applied and applies each entry through `apply`
(risklist_server.cluster.stream_writes.write_call_applier runs the write's handler with the clock pinned to the
entry's time), one at a time and in order, so every node that applies the same log reaches the same records.
A caller on this node that appended an entry waits until this node has applied it and gets the result the
handler produced here: its response, or the refusal the handler raised (an error of `refusals`: the request's
own fault, so the same on every node).

Any other error (a full disk, a damaged store, a bug) means this node could not apply what the others did: the
applier stops there, holds the error as `failure` and applies nothing more, so the node never serves records
that silently diverge (its health turns NOT_SERVING; restarting it retries the same entry).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

import structlog

from risklist_server.cluster.log_entry import LogEntry
from risklist_server.cluster.write_log import LogGap, LogUnavailable, WriteLog

log = structlog.get_logger(__name__)

READ_BATCH = 512
POLL_S = 0.5
"""How long one read waits for new entries (a long poll: an entry appended meanwhile comes at once)."""
RETRY_S = 0.5
"""Pause after a failed read before the next (the log's servers unreachable)."""

Apply = Callable[[int, LogEntry], object]


class LogApplier:
    """Applies the log from `applied + 1` on, in a thread of its own (see the module's description)."""

    def __init__(self, write_log: WriteLog, apply: Apply, *, refusals: tuple[type[Exception], ...] = (),
                 applied: int = 0, read_batch: int = READ_BATCH, on_gap: Callable[[], None] = lambda: None) -> None:
        """`on_gap` is called (on the applier's thread) once it stopped because the log no longer holds the entry
        it needs next (LogGap)."""
        self._log = write_log
        self._apply = apply
        self._refusals = refusals
        self.failure: Exception | None = None
        """Why this node stopped applying (None while it applies)."""
        self._applied = applied
        self._caught_up_at: float | None = None
        self._read_batch = read_batch
        self._on_gap = on_gap
        self._pending: dict[str, Future[object]] = {}
        self._lock = threading.Lock()
        self._caught_up = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-applier", daemon=True)

    @property
    def applied(self) -> int:
        """The last sequence this node applied."""
        with self._lock:
            return self._applied

    def lag_s(self, now: float | None = None) -> float | None:
        """Seconds since this node last found it had applied every entry the log held (on `now`, a time.monotonic());
        None until it first did. A node cut off from the log, or slower than the network's writes, grows its lag."""
        with self._lock:
            caught_up_at = self._caught_up_at
        if caught_up_at is None:
            return None
        return max(0.0, (time.monotonic() if now is None else now) - caught_up_at)

    def start(self) -> LogApplier:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    def expect(self, request_id: str) -> Future[object]:
        """Register, before appending it, that this node waits for the entry of `request_id`: its future gets the
        result of applying it here (forget() it once done)."""
        future: Future[object] = Future()
        with self._lock:
            self._pending[request_id] = future
        return future

    def forget(self, request_id: str) -> None:
        with self._lock:
            self._pending.pop(request_id, None)

    def wait_applied(self, sequence: int, timeout_s: float) -> bool:
        """Whether this node has applied up to `sequence`, waiting at most `timeout_s`."""
        with self._caught_up:
            return self._caught_up.wait_for(lambda: self._applied >= sequence, timeout_s)

    def _run(self) -> None:
        try:
            self._follow()
        except Exception as error:  # noqa: BLE001 - an entry it cannot read (a newer node's), or a bug: stop, loudly
            # The type only, but a gap's text (sequences, what to do), which quotes no request.
            log.error("log_follow_failed", error_type=type(error).__name__, applied=self.applied,
                      detail=str(error) if isinstance(error, LogGap) else None)
            with self._caught_up:
                self.failure = error
                self._stop.set()
                self._caught_up.notify_all()
            if isinstance(error, LogGap):
                self._on_gap()

    def _follow(self) -> None:
        failing = False
        while not self._stop.is_set():
            try:
                # Empty only once the stream's leader said nothing follows (WriteLog.read): a server cut off from
                # it cannot pass for caught up.
                entries = self._log.read(self.applied, limit=self._read_batch, timeout_s=POLL_S)
                read_at = time.monotonic()
            except LogUnavailable as error:
                if not failing:  # once per outage: the lag metric and health say how long it lasts
                    log.warning("log_read_failed", error=str(error), applied=self.applied)
                failing = True
                self._stop.wait(RETRY_S)
                continue
            if failing:
                log.info("log_read_recovered", applied=self.applied)
                failing = False
            for sequence, entry in entries:
                if not self._apply_one(sequence, entry):
                    return
            if len(entries) < self._read_batch:  # the log held no more when read: caught up to then
                with self._lock:
                    self._caught_up_at = read_at

    def _apply_one(self, sequence: int, entry: LogEntry) -> bool:
        """Apply one entry; False if it could not be (the applier then stops: see the module's description)."""
        result: object = None
        failed: Exception | None = None
        try:
            result = self._apply(sequence, entry)
        except self._refusals as refusal:  # the request's own fault: the caller's answer, the same on every node
            result = refusal
        except Exception as error:  # noqa: BLE001 - anything else stops this node's applying, loudly
            # The error's type and, for the OS, its reason: never its text, which may quote a request's values.
            log.error("log_apply_failed", sequence=sequence, method=entry.method, error_type=type(error).__name__,
                      reason=error.strerror if isinstance(error, OSError) else None)
            failed = error
        with self._caught_up:
            if failed is None:
                self._applied = sequence
            else:
                self.failure = failed
                self._stop.set()
            waiting = self._pending.pop(entry.request_id, None)
            self._caught_up.notify_all()
        if waiting is not None and not waiting.done():
            if failed is None:
                waiting.set_result(result)
            else:
                waiting.set_exception(failed)
        return failed is None
