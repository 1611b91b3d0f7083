"""Prometheus text parsing and gRPC status counting from the server's /metrics."""

from __future__ import annotations

import pytest

from benchmarks.prometheus import code_delta, handled_by_code, parse_text

TEXT = """\
# HELP grpc_server_handled_total Total number of RPCs completed on the server.
# TYPE grpc_server_handled_total counter
grpc_server_handled_total{grpc_code="OK",grpc_method="Check",grpc_service="risklist.v1.RiskList",t="u"} 1500.0
grpc_server_handled_total{grpc_code="INVALID_ARGUMENT",grpc_method="Check",grpc_service="risklist.v1.RiskList"} 2.0
grpc_server_handled_total{grpc_code="OK",grpc_method="BatchCheck",grpc_service="risklist.v1.RiskList"} 7.0
grpc_server_handled_total{grpc_code="OK",grpc_method="Check",grpc_service="other.Service"} 99.0
process_cpu_seconds_total 12.5
odd_label{path="a \\"quoted\\" \\\\ value"} 1 1700000000000
"""


def test_samples_labels_and_values_are_parsed() -> None:
    """Comments are skipped; labels, escaped quotes, backslashes and timestamps are handled."""
    samples = parse_text(TEXT)
    assert len(samples) == 6
    assert samples[0].labels["grpc_code"] == "OK" and samples[0].value == 1500.0
    assert samples[4].name == "process_cpu_seconds_total" and samples[4].labels == {}
    assert samples[5].labels["path"] == 'a "quoted" \\ value'


def test_handled_counts_one_method_of_one_service_per_code() -> None:
    """Only risklist.v1.RiskList/Check counts, summed per grpc_code."""
    assert handled_by_code(parse_text(TEXT), "Check") == {"OK": 1500.0, "INVALID_ARGUMENT": 2.0}


def test_counts_of_several_workers_are_summed() -> None:
    """Samples that differ only in another label (e.g. a worker) add up."""
    labels = 'grpc_code="OK",grpc_method="Check",grpc_service="risklist.v1.RiskList"'
    text = f"grpc_server_handled_total{{{labels},w=\"1\"}} 3\ngrpc_server_handled_total{{{labels},w=\"2\"}} 4\n"
    assert handled_by_code(parse_text(text), "Check") == {"OK": 7.0}


def test_delta_keeps_only_codes_that_changed() -> None:
    """The difference of two readings, codes seen only after included, unchanged codes left out."""
    assert code_delta({"OK": 10.0, "UNAVAILABLE": 1.0}, {"OK": 25.0, "UNAVAILABLE": 1.0, "INTERNAL": 2.0}) == {
        "INTERNAL": 2, "OK": 15}


def test_garbage_is_refused() -> None:
    """A line that is not a sample raises ValueError."""
    with pytest.raises(ValueError):
        parse_text("this is not a metric line at all {")
