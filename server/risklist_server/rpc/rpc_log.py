"""One structured log line, audit record and set of metrics per RPC: member, request id, method, subjects, hits,
latency, status."""

from __future__ import annotations

import time
from collections.abc import Sequence
from types import TracebackType

import structlog
from risklist.v1 import risklist_pb2 as pb

from risklist_server.audit.trail import AuditSink
from risklist_server.core.errors import BatchTooLarge
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
    with the RPC's final status (failures included).
    """

    __slots__ = ("service", "method", "count", "hits", "status", "partner", "request_id", "refusal", "_started",
                 "_log_success", "_sink", "_entry")

    def __init__(
        self, method: str, service: str = RISKLIST_SERVICE, *, audit: AuditSink, log_success: bool = True
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
        entry = self._entry
        if entry is not None:
            self._entry = None
            keys = entry.keys if isinstance(entry.keys, bytes) else b"".join(entry.keys)
            self._sink.append(time.time_ns(), entry.partner, self.method, entry.request_id, status, keys, entry.hits,
                              source=entry.source, unrecorded=entry.unrecorded, at_least=entry.unrecorded_at_least,
                              received=entry.received)

    def __enter__(self) -> RpcLog:
        self._started = time.perf_counter()
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
        if exc is not None and self.status == "OK":
            self.status = "CANCELLED" if isinstance(exc, GeneratorExit) else "UNKNOWN"
        self._append(self.status)
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
