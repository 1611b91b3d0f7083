"""Write-type calls through the cluster's log: the WriteGateway of a node in cluster mode.

submit() appends the call as a LogEntry (its request id the de-duplication id), then waits until this node's
LogApplier has applied it and answers what the handler produced here. Acknowledged therefore means stored on a
quorum of the log's servers and applied on the answering node (the caller reads its own write there). A log
without a quorum raises LogUnavailable within the caller's deadline (the servicer answers UNAVAILABLE).

Decisions that depend on state are made at apply time: write_call_applier runs the method's handler (the same
WriteCalls a single node runs) on every node, with the clock pinned to the time the receiving node took the
call, so every node computes the same records.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from google.protobuf.message import Message

from risklist_kernel.errors import InvalidIdentifier
from risklist_server.cluster.applier import LogApplier
from risklist_server.cluster.log_entry import LogEntry
from risklist_server.cluster.write_log import WriteLog
from risklist_server.core.errors import (
    BatchTooLarge,
    InvalidSubject,
    InvalidSubjects,
    NotPermitted,
    OutcomeNotProven,
    SourceNotAllowed,
    WriteUnavailable,
)
from risklist_server.rpc.access.caller import Caller
from risklist_server.rpc.write_calls import ResponseT, WriteCalls

DEFAULT_TIMEOUT_S = 10.0
ANSWER_MARGIN_S = 0.2
"""A write is given up this long before the caller's deadline (at most a tenth of it), so that the caller gets the
UNAVAILABLE that says what happened rather than its own DEADLINE_EXCEEDED."""


class PinnedClock:
    """A clock for the services of a cluster node: the entry's time while the applier applies it, else now."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._local = threading.local()

    def __call__(self) -> float:
        pinned: float | None = getattr(self._local, "pinned", None)
        return self._now() if pinned is None else pinned

    @contextmanager
    def pinned(self, seconds: float) -> Iterator[None]:
        self._local.pinned = seconds
        try:
            yield
        finally:
            self._local.pinned = None


class UnknownWriteMethod(LookupError):
    """A log entry names a method this node does not know (a newer node wrote it): it stops applying."""


REFUSALS: tuple[type[Exception], ...] = (InvalidIdentifier, InvalidSubject, InvalidSubjects, BatchTooLarge,
                                          SourceNotAllowed, OutcomeNotProven, NotPermitted)
"""What a write's handler raises for the request's own fault: the answer to its caller, the same on every node
(LogApplier's `refusals`). Anything else stops the node's applier."""


class LogPositions(Protocol):
    """The store's side of applying the log (RiskStore): where it is, and applying one entry there."""

    @property
    def log_position(self) -> int: ...

    def log_entry(self, sequence: int) -> AbstractContextManager[None]: ...


def write_call_applier(calls: WriteCalls, clock: PinnedClock, store: LogPositions,
                       refusals: tuple[type[Exception], ...] = REFUSALS) -> Callable[[int, LogEntry], object]:
    """What a LogApplier runs for each entry: its method's handler, on its request, as its caller, at its time,
    recording in `store` that the entry is applied (with its writes, atomically: RiskStore.log_entry). A refusal
    (of `refusals`) is the entry's result, returned, and its position recorded too: after a restart it is not
    decided again (under settings that may have changed meanwhile). Start the applier from
    `store.log_position`."""

    def apply(sequence: int, entry: LogEntry) -> object:
        call = calls.get(entry.method)
        if call is None:
            raise UnknownWriteMethod(f"log entry {entry.request_id} is a {entry.method!r} call, which this node "
                                     "does not know: upgrade it to the version the other nodes run")
        request = call.request_type.FromString(entry.request)
        with store.log_entry(sequence), clock.pinned(entry.received_at_ms / 1000):
            try:
                response: Message = call.handler(Caller(entry.partner, entry.roles), entry.request_id, request)
            except refusals as refusal:
                return refusal
        return response

    return apply


class PendingWrite:
    """A write appended to the log (durable on a quorum) that this node may not have applied yet."""

    def __init__(self, applier: LogApplier, method: str, request_id: str, applied: Future[object], deadline: float,
                 timeout_s: float) -> None:
        self._applier = applier
        self._method = method
        self._request_id = request_id
        self._applied = applied
        self._deadline = deadline
        self._timeout_s = timeout_s

    def result(self, response_type: type[ResponseT]) -> ResponseT:
        """What applying it here answered, once applied (WriteUnavailable past the deadline; a refusal raised)."""
        request_id, timeout_s = self._request_id, self._timeout_s
        try:
            result = self._applied.result(max(0.0, self._deadline - time.monotonic()))
        except FutureTimeout:
            raise WriteUnavailable(f"request {request_id} is in the write log (every node will apply it) but this "
                                   f"node has not applied it within {timeout_s:g} s (it is behind the log); a "
                                   "retry is applied again, harmlessly for Report and Revoke") from None
        except Exception as error:  # noqa: BLE001 - not a refusal: this node failed to apply it (LogApplier)
            raise WriteUnavailable(f"request {request_id} is in the write log (every node will apply it) but this "
                                   f"node could not apply it ({type(error).__name__}) and stopped applying: "
                                   "send further writes to another node") from None
        finally:
            self._applier.forget(request_id)
        if isinstance(result, Exception):
            raise result
        if not isinstance(result, response_type):
            raise TypeError(f"{self._method} answered {type(result).__name__}, not {response_type.__name__}")
        return result


class StreamWrites:
    """The WriteGateway of a cluster node (see the module's description)."""

    def __init__(self, write_log: WriteLog, applier: LogApplier, *, clock: Callable[[], float] = time.time) -> None:
        self._log = write_log
        self._applier = applier
        self._clock = clock

    def submit(
        self, method: str, caller: Caller, request_id: str, request: Message, response_type: type[ResponseT],
        *, timeout: float | None = None,
    ) -> ResponseT:
        return self.begin(method, caller, request_id, request, timeout=timeout).result(response_type)

    def begin(self, method: str, caller: Caller, request_id: str, request: Message, *,
              timeout: float | None = None) -> PendingWrite:
        """Append the call to the log and return without waiting for this node to apply it: several writes of
        one caller (a load's batches) are then applied while the next ones are appended."""
        timeout_s = DEFAULT_TIMEOUT_S if timeout is None else timeout
        timeout_s -= min(ANSWER_MARGIN_S, timeout_s / 10)
        deadline = time.monotonic() + timeout_s
        if self._applier.failure is not None:
            raise WriteUnavailable(f"this node stopped applying the write log ({type(self._applier.failure).__name__}; "
                                   "its log says why); nothing was written: send the write to another node")
        entry = LogEntry(method, caller.partner, caller.roles, request_id, int(self._clock() * 1000),
                         request.SerializeToString())
        applied = self._applier.expect(request_id)
        try:
            self._log.append(entry, timeout_s=timeout_s)
        except BaseException:
            self._applier.forget(request_id)
            raise
        return PendingWrite(self._applier, method, request_id, applied, deadline, timeout_s)
