"""Prometheus metrics of RPCs: counts and latency per method (as grpc's own interceptors name them), and per member.

Every metric is written by the worker processes and summed by the supervisor's /metrics
(prometheus_client's multiprocess mode, process/metrics_endpoint.py). A member label is
always a partner id from the partners file or NOT_A_MEMBER, so no stranger can create series.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from risklist_server.core.errors import NotAuthenticated, NotPermitted, QuotaExceeded, StreamLimitReached
from risklist_server.rpc.status import status_name

NOT_A_MEMBER = "(not a member)"
"""The partner label of every refusal of a caller that is no member (whatever its certificate names)."""

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
"""Seconds: a lookup answers in well under a millisecond; past 5 s a call is as good as failed."""

HANDLED = Counter(
    "grpc_server_handled",
    "RPCs completed on the server, by service, method and grpc status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
SUBJECTS = Counter(
    "risklist_subjects_checked",
    "Subjects looked up, by method (a batch counts each of its subjects).",
    ["grpc_method"],
)
LATENCY = Histogram(
    "grpc_server_handling_seconds",
    "Time from a call's arrival at its handler to its end (refusals included), by service and method.",
    ["grpc_service", "grpc_method"],
    buckets=LATENCY_BUCKETS,
)
MEMBER_REQUESTS = Counter(
    "risklist_member_requests",
    "RPCs each member made (refused ones included), by method.",
    ["partner", "grpc_method"],
)
MEMBER_SUBJECTS = Counter(
    "risklist_member_subjects",
    "Subjects each member sent in RiskList calls (a batch counts each of its subjects).",
    ["partner"],
)
MEMBER_REFUSALS = Counter(
    "risklist_member_refusals",
    "Calls refused because of the caller or its request, by member and reason.",
    ["partner", "reason"],
)
OPEN_STREAMS = Gauge(
    "risklist_open_streams",
    "Streaming calls open now, by member (summed over the live workers).",
    ["partner"],
    multiprocess_mode="livesum",
)

_CLIENT_FAULTS = frozenset({"INVALID_ARGUMENT", "OUT_OF_RANGE", "FAILED_PRECONDITION", "PERMISSION_DENIED",
                            "UNAUTHENTICATED", "RESOURCE_EXHAUSTED", "NOT_FOUND"})
"""Statuses that refuse a caller's request; the others are the server's failures or the call's end."""

_handled_children: dict[tuple[str, str, str], Counter] = {}
_subject_children: dict[str, Counter] = {}
_latency_children: dict[tuple[str, str], Histogram] = {}
_request_children: dict[tuple[str, str], Counter] = {}
_member_subject_children: dict[str, Counter] = {}


def refusal_reason(error: Exception) -> str | None:
    """Why `error` refuses the caller ("not_a_member", "role", "quota_requests", "stream_cap_member",
    "invalid_argument", ...), or None when it is no refusal (the server failed)."""
    if isinstance(error, NotAuthenticated):
        return "not_a_member"
    if isinstance(error, NotPermitted):
        return "role"
    if isinstance(error, QuotaExceeded):
        return f"quota_{error.dimension}"
    if isinstance(error, StreamLimitReached):
        return f"stream_cap_{error.scope}"
    status = status_name(error)
    return status.lower() if status in _CLIENT_FAULTS else None


def count_rpc(service: str, method: str, code: str, subjects: int, seconds: float | None = None) -> None:
    """Count one finished RPC, the subjects it looked up and (given) how long it took."""
    handled = _handled_children.get((service, method, code))
    if handled is None:
        handled = _handled_children[(service, method, code)] = HANDLED.labels(service, method, code)
    handled.inc()
    if subjects:
        counter = _subject_children.get(method)
        if counter is None:
            counter = _subject_children[method] = SUBJECTS.labels(method)
        counter.inc(subjects)
    if seconds is not None:
        latency = _latency_children.get((service, method))
        if latency is None:
            latency = _latency_children[(service, method)] = LATENCY.labels(service, method)
        latency.observe(seconds)


def count_member(partner: str, method: str, subjects: int, refusal: str | None) -> None:
    """Count one call of member `partner` (NOT_A_MEMBER for a stranger), its subjects and its refusal if any."""
    requests = _request_children.get((partner, method))
    if requests is None:
        requests = _request_children[(partner, method)] = MEMBER_REQUESTS.labels(partner, method)
    requests.inc()
    if subjects:
        counter = _member_subject_children.get(partner)
        if counter is None:
            counter = _member_subject_children[partner] = MEMBER_SUBJECTS.labels(partner)
        counter.inc(subjects)
    if refusal is not None:
        MEMBER_REFUSALS.labels(partner, refusal).inc()


def stream_opened(partner: str) -> None:
    OPEN_STREAMS.labels(partner).inc()


def stream_closed(partner: str) -> None:
    OPEN_STREAMS.labels(partner).dec()
