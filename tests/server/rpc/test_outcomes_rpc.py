"""ReportOutcome and Admin.GetQuality over real grpc: outcomes grade the sources behind a hit."""

from __future__ import annotations

import grpc
import pytest
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.secret import NetworkSecret
from tests.support.admin_ingest import PHONE, ingest_phone
from tests.support.running_server import ServerProcess


def _quality(server: ServerProcess) -> dict[str, pb.SourceQuality]:
    with grpc.insecure_channel(server.admin_address) as channel:
        response = pb_grpc.AdminStub(channel).GetQuality(pb.GetQualityRequest(), timeout=10)
    return {row.source: row for row in response.sources}


def test_outcomes_reach_the_quality_figures(server_process: ServerProcess, secret: NetworkSecret) -> None:
    """A partner's outcome for a hit becomes the listing source's precision; a later one, for the same or
    another hit on the subject, revises it, never adds."""
    ingest_phone(server_process.admin_address, secret)
    with grpc.insecure_channel(server_process.address) as channel:
        stub = pb_grpc.RiskListStub(channel)
        subject = pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=PHONE)
        hits = [stub.Check(pb.CheckRequest(subject=subject), timeout=10) for _ in range(2)]
        assert all(hit.verdict.listed for hit in hits)

        def report(hit: pb.CheckResponse, outcome: int) -> None:
            response = stub.ReportOutcome(pb.ReportOutcomeRequest(
                hit_request_id=hit.request_id, subject=subject, outcome=outcome, hit_token=hit.outcome_token),
                timeout=10)
            assert response.sources_credited == 1 and len(response.request_id) == 24

        report(hits[0], pb.OUTCOME_CONFIRMED_FRAUD)
        row = _quality(server_process)["bank-a"]
        assert (row.confirmed_fraud, row.false_positive, row.live_contributions) == (1, 0, 1)
        assert row.precision_known and row.precision == 1.0
        for hit in (hits[0], hits[1], hits[1]):
            report(hit, pb.OUTCOME_FALSE_POSITIVE)
    row = _quality(server_process)["bank-a"]
    assert (row.confirmed_fraud, row.false_positive) == (0, 1)
    assert row.precision_known and row.precision == 0.0


def test_bad_outcome_requests_name_every_field(server_process: ServerProcess) -> None:
    """A malformed request id, an unspecified outcome and a bad subject are all named, nothing recorded."""
    with grpc.insecure_channel(server_process.address) as channel:
        stub = pb_grpc.RiskListStub(channel)
        with pytest.raises(grpc.RpcError) as raised:
            stub.ReportOutcome(pb.ReportOutcomeRequest(
                hit_request_id="not-a-request-id", subject=pb.Subject(type=pb.ENTITY_TYPE_PHONE, value="12"),
            ), timeout=10)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = raised.value.details() or ""
    assert "hit_request_id" in details and "outcome" in details and "subject" in details
    assert _quality(server_process) == {}
