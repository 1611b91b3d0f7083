"""One structured log line, audit record and set of metrics per RPC: member, request id, method, subjects, hits,
latency, status."""

from __future__ import annotations

import time
from collections.abc import Sequence
from types import TracebackType

import grpc
import structlog
from risklist.v1 import risklist_pb2 as pb

from risklist_server.audit.trail import AuditSink
from risklist_server.core.errors import BatchTooLarge
from risklist_server.rpc.drain import Drain, ended_status
from risklist_server.rpc.metrics import count_member, count_rpc, refusal_reason
from risklist_server.rpc.status import status_name

log = structlog.get_logger("risklist.rpc")

RISKLIST_SERVICE = pb.DESCRIPTOR.services_by_name["RiskList"].full_name
ADMIN_SERVICE = pb.DESCRIPTOR.services_by_name["Admin"].full_name
MEMBER_SERVICES = frozenset({RISKLIST_SERVICE, ADMIN_SERVICE})
"""Services whose calls count per member (the writer link's are members' calls already counted by a reader)."""


class AuditEntry:
    """What the audit records of one answer: the servicer fills keys and hits as it learns them."""

    __slots__ = ("partner", "request_id", "keys", "hits", "source", "unrecorded", "unrecorded_at_least", "received")

    def __init__(
        self, partner: str, request_id: str, keys: Sequence[bytes] | bytes, hits: Sequence[int], source: str = ""
    ) -> None:
        self.partner = partner
        self.request_id = request_id
        self.keys = keys
        """Storage keys (type byte + digest) of the subjects once resolved, one by one or already
        concatenated; never raw identifiers."""
        self.hits = hits
        """Indexes into `keys` of the listed subjects (lookups)."""
        self.source = source
        """The source id an Admin.Ingest loads under."""
        self.unrecorded = 0
        """Subjects the request carried but the record does not hold (a batch refused for its size, unread)."""
        self.unrecorded_at_least = False
        self.received = True
        """False: the call ended before its request arrived."""


class RpcLog:
    """Context manager timing one RPC; the servicer fills count/hits, reports failures, names audit entries.

    Every RPC is counted in the metrics; a successful one is logged only with `log_success`
    (at thousands of checks a second, a JSON line each is a large share of a Check's cost).
    Every entry opened with `audit` is appended to `audit_sink` before the reply leaves:
    at `answered()` (each StreamCheck message), at the next `audit()`, or when the RPC ends,
    with the RPC's final status (failures included). Given the call's `context`, a call that
    ended under the server (its caller cancelled, its deadline passed, the server's grace ran
    out) is recorded with what its caller got, not OK; given the process's `drain`, the RPC
    counts as in flight until it ends, and a worker that stops audits it even if it never ends.
    """

    __slots__ = ("service", "method", "count", "hits", "status", "partner", "request_id", "refusal", "_started",
                 "_log_success", "_sink", "_entry", "_context", "_drain", "_abandoned")

    def __init__(
        self, method: str, service: str = RISKLIST_SERVICE, *, audit: AuditSink, log_success: bool = True,
        context: grpc.ServicerContext | None = None, drain: Drain | None = None,
    ) -> None:
        self.service = service
        self._log_success = log_success
        self.method = method
        self.count = 0
        self.hits = 0
        self.status = "OK"
        self.partner = ""
        """The caller, once known (the first `audit`)."""
        self.request_id = ""
        """The last answer's request id (a stream's last message's)."""
        self.refusal: str | None = None
        """Why the caller was refused (risklist_server.rpc.metrics.refusal_reason), if it was."""
        self._started = 0.0
        self._sink = audit
        self._entry: AuditEntry | None = None
        self._context = context
        self._drain = drain
        self._abandoned = False

    def audit(
        self, partner: str, request_id: str, keys: Sequence[bytes] | bytes = (), hits: Sequence[int] = (), *,
        source: str = "",
    ) -> AuditEntry:
        """Open the audit entry of the answer being computed (an open one is appended as answered)."""
        self.answered()
        self.partner, self.request_id = partner, request_id
        self._entry = AuditEntry(partner, request_id, keys, hits, source)
        return self._entry

    def answered(self) -> None:
        """Append the open audit entry as answered (status OK): call before yielding a stream message."""
        self._append("OK")

    def _append(self, status: str) -> None:
        if self._drain is None:
            entry, self._entry = self._entry, None
        else:
            with self._drain.lock:  # never with abandon() at once: one record per entry
                entry, self._entry = (None if self._abandoned else self._entry), None
        if entry is not None:
            self._write(entry, status)

    def _write(self, entry: AuditEntry, status: str) -> None:
        keys = entry.keys if isinstance(entry.keys, bytes) else b"".join(entry.keys)
        self._sink.append(time.time_ns(), entry.partner, self.method, entry.request_id, status, keys, entry.hits,
                          source=entry.source, unrecorded=entry.unrecorded, at_least=entry.unrecorded_at_least,
                          received=entry.received)

    def abandon(self, status: str) -> None:
        """Audit the open entry now with `status` (the worker stops and this call's handler still runs); whatever
        the handler appends later is dropped."""
        assert self._drain is not None, "only a drain abandons calls"
        with self._drain.lock:
            entry, self._entry, self._abandoned = self._entry, None, True
        if entry is not None:
            self._write(entry, status)

    def __enter__(self) -> RpcLog:
        self._started = time.perf_counter()
        if self._drain is not None:
            self._drain.opened(self)
        return self

    def fail(self, error: Exception) -> None:
        """Record the status `error` maps to; unexpected errors are logged with their traceback. A batch refused
        for its size is audited with the count of subjects it carried (and no keys: none was read)."""
        self.status = status_name(error)
        self.refusal = refusal_reason(error)
        if isinstance(error, BatchTooLarge) and self._entry is not None:
            self._entry.keys = b""
            self._entry.unrecorded, self._entry.unrecorded_at_least = error.size, error.at_least
        if self.status == "INTERNAL":
            log.error("rpc_internal_error", method=self.method, partner=self.partner, request_id=self.request_id,
                      error_type=type(error).__name__, exc_info=error)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        context = self._context
        if exc is not None and self.status == "OK":
            if isinstance(exc, GeneratorExit):  # grpc dropped the response stream: the call is over
                self.status = "CANCELLED" if context is None else ended_status(context, self._drain)
            else:
                self.status = "UNKNOWN"
        elif self.status == "OK" and context is not None and not context.is_active():
            self.status = ended_status(context, self._drain)  # answered, but the caller no longer waited for it
        self._append(self.status)
        if self._drain is not None:
            self._drain.closed(self)
        seconds = time.perf_counter() - self._started
        subjects = self.count if self.service == RISKLIST_SERVICE else 0
        count_rpc(self.service, self.method, self.status, subjects, seconds)
        if self.partner and self.service in MEMBER_SERVICES:
            count_member(self.partner, self.method, subjects, self.refusal)
        if self.status == "OK" and not self._log_success:
            return
        emit = log.info if self.status in ("OK", "INVALID_ARGUMENT") else log.warning
        emit("rpc", method=self.method, partner=self.partner, request_id=self.request_id, count=self.count,
             hits=self.hits, latency_ms=round(seconds * 1000, 3), status=self.status)
