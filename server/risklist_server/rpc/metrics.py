"""Prometheus counters for RPCs, named as grpc's own interceptors name them."""

from __future__ import annotations

from prometheus_client import Counter

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

_handled_children: dict[tuple[str, str, str], Counter] = {}
_subject_children: dict[str, Counter] = {}


def count_rpc(service: str, method: str, code: str, subjects: int) -> None:
    """Count one finished RPC and the subjects it looked up."""
    handled = _handled_children.get((service, method, code))
    if handled is None:
        handled = _handled_children[(service, method, code)] = HANDLED.labels(service, method, code)
    handled.inc()
    if subjects:
        counter = _subject_children.get(method)
        if counter is None:
            counter = _subject_children[method] = SUBJECTS.labels(method)
        counter.inc(subjects)
