"""The contribution rules over real grpc: a control character in a reference is refused by Report and Ingest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.digest import Digester
from risklist_kernel.enums import EntityType
from risklist_kernel.secret import NetworkSecret
from tests.support.admin_ingest import PHONE
from tests.support.running_server import ServerProcess, start_server

PHONE_SUBJECT = pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=PHONE)
BAD_REFERENCE = "CASE\x07-1"


@pytest.fixture()
def served(tmp_path: Path, secret_file: Path) -> Iterator[ServerProcess]:
    running = start_server(tmp_path / "db", secret_file)
    try:
        yield running
    finally:
        running.terminate()


def _violations(error: grpc.RpcError) -> dict[str, str]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    detail = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(detail)
    return {violation.field: violation.description for violation in detail.field_violations}


def _listed(channel: grpc.Channel) -> bool:
    response: pb.CheckResponse = pb_grpc.RiskListStub(channel).Check(pb.CheckRequest(subject=PHONE_SUBJECT),
                                                                     timeout=10)
    return bool(response.verdict.listed)


def test_report_with_a_control_character_in_the_reference_is_invalid_argument(served: ServerProcess) -> None:
    """Report refuses a reference holding a control character as INVALID_ARGUMENT naming it; nothing is listed."""
    report = pb.Report(subject=PHONE_SUBJECT, category=pb.CATEGORY_MONEY_MULE, level=pb.RISK_LEVEL_HIGH,
                       reference=BAD_REFERENCE)
    with grpc.insecure_channel(served.address) as channel:
        with pytest.raises(grpc.RpcError) as caught:
            pb_grpc.RiskListStub(channel).Report(pb.ReportRequest(reports=[report]), timeout=10)
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
        assert _violations(caught.value) == {
            "reports[0].reference": "control or unassigned characters are not allowed"}
        assert not _listed(channel)


def test_ingest_with_a_control_character_in_the_reference_is_invalid_argument(
    served: ServerProcess, secret: NetworkSecret
) -> None:
    """Admin.Ingest refuses the same reference as a feed row would, naming the mutation's reference field."""
    requests = [
        pb.IngestRequest(start=pb.IngestStart(source="bank-a", mode=pb.LOAD_MODE_DELTA,
                                              secret_fingerprint=secret.fingerprint)),
        pb.IngestRequest(batch=pb.IngestBatch(mutations=[pb.Mutation(
            action=pb.MUTATION_ACTION_ADD, type=pb.ENTITY_TYPE_PHONE,
            digest=Digester(secret).digest(EntityType.PHONE, PHONE), category=pb.CATEGORY_TELECOM_FRAUD,
            level=pb.RISK_LEVEL_HIGH, reported_at=Timestamp(seconds=1_760_000_000),
            expires_at=Timestamp(seconds=1_900_000_000), reference=BAD_REFERENCE)])),
    ]
    with grpc.insecure_channel(served.admin_address) as admin, grpc.insecure_channel(served.address) as channel:
        with pytest.raises(grpc.RpcError) as caught:
            pb_grpc.AdminStub(admin).Ingest(iter(requests), timeout=10)
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
        assert set(_violations(caught.value)) == {"requests[1].batch.mutations[0].reference"}
        assert not _listed(channel)
