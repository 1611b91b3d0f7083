"""One structured log line per RPC: method, subjects, hits, latency, status. Never identifiers."""

from __future__ import annotations

import time
from types import TracebackType

import structlog
from risklist.v1 import risklist_pb2 as pb

from server.rpc.metrics import count_rpc
from server.rpc.status import status_name

log = structlog.get_logger("risklist.rpc")

RISKLIST_SERVICE = pb.DESCRIPTOR.services_by_name["RiskList"].full_name
ADMIN_SERVICE = pb.DESCRIPTOR.services_by_name["Admin"].full_name


class RpcLog:
    """Context manager timing one RPC; the servicer fills count/hits and reports failures.

    Every RPC is counted in the metrics; a successful one is logged only with `log_success`
    (at thousands of checks a second, a JSON line each is a large share of a Check's cost).
    """

    __slots__ = ("service", "method", "count", "hits", "status", "_started", "_log_success")

    def __init__(self, method: str, service: str = RISKLIST_SERVICE, *, log_success: bool = True) -> None:
        self.service = service
        self._log_success = log_success
        self.method = method
        self.count = 0
        self.hits = 0
        self.status = "OK"
        self._started = 0.0

    def __enter__(self) -> RpcLog:
        self._started = time.perf_counter()
        return self

    def fail(self, error: Exception) -> None:
        """Record the status `error` maps to; unexpected errors are logged with their traceback."""
        self.status = status_name(error)
        if self.status == "INTERNAL":
            log.error("rpc_internal_error", method=self.method, error_type=type(error).__name__,
                      exc_info=error)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is not None and self.status == "OK":
            self.status = "CANCELLED" if isinstance(exc, GeneratorExit) else "UNKNOWN"
        count_rpc(self.service, self.method, self.status, self.count if self.service == RISKLIST_SERVICE else 0)
        if self.status == "OK" and not self._log_success:
            return
        latency_ms = round((time.perf_counter() - self._started) * 1000, 3)
        emit = log.info if self.status in ("OK", "INVALID_ARGUMENT") else log.warning
        emit("rpc", method=self.method, count=self.count, hits=self.hits,
             latency_ms=latency_ms, status=self.status)
