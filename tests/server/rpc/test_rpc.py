"""RiskList and Admin over real grpc on 127.0.0.1: verdicts, errors with details, health, reflection."""

from __future__ import annotations

import threading

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import code_pb2, error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status
from risklist.v1 import risklist_pb2 as pb

from risklist_kernel.digest import Digester
from risklist_kernel.enums import EntityType
from risklist_server.rpc.risklist_servicer import require_time_left
from risklist_server.rpc.status import DeadlineExpired, status_for
from tests.server.conftest import InProcessServer

PHONE = "+8613800138000"
NOW = 1_763_000_000


def _add(server: InProcessServer, digester: Digester, source: str, entity_type: EntityType,
         canonical: str, category: int, level: int, reported: int = NOW - 86_400) -> pb.IngestResponse:
    def requests():  # type: ignore[no-untyped-def]
        yield pb.IngestRequest(start=pb.IngestStart(source=source, mode=pb.LOAD_MODE_DELTA,
                                                    secret_fingerprint=server.secret_fingerprint))
        yield pb.IngestRequest(batch=pb.IngestBatch(mutations=[pb.Mutation(
            action=pb.MUTATION_ACTION_ADD, type=int(entity_type),
            digest=digester.digest(entity_type, canonical), category=category, level=level,
            reported_at=Timestamp(seconds=reported), expires_at=Timestamp(seconds=4_000_000_000),
            reference="case-1")]))
    return server.admin.Ingest(requests(), timeout=10)


def _violations(error: grpc.RpcError) -> list[tuple[str, str]]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    detail = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(detail)
    return [(v.field, v.description) for v in detail.field_violations]


def test_verdict_aggregates_sources_and_raw_equals_digest(grpc_server: InProcessServer, digester: Digester) -> None:
    """Two banks' reports add up, and asking by raw value or by digest gives the same verdict."""
    _add(grpc_server, digester, "bank-a", EntityType.PHONE, PHONE, pb.CATEGORY_MONEY_MULE, pb.RISK_LEVEL_MEDIUM)
    response = _add(grpc_server, digester, "bank-b", EntityType.PHONE, PHONE, pb.CATEGORY_TELECOM_FRAUD,
                    pb.RISK_LEVEL_CRITICAL, reported=NOW - 10)
    assert response.added == 1 and response.list_version == 2
    by_value = grpc_server.stub.Check(pb.CheckRequest(subject=pb.Subject(
        type=pb.ENTITY_TYPE_PHONE, value="138 0013 8000")), timeout=5)
    by_digest = grpc_server.stub.Check(pb.CheckRequest(subject=pb.Subject(
        type=pb.ENTITY_TYPE_PHONE, digest=digester.digest(EntityType.PHONE, PHONE))), timeout=5)
    assert by_value.verdict == by_digest.verdict and by_value.list_version == by_digest.list_version
    assert by_value.request_id != by_digest.request_id  # each answer is named for the audit
    verdict = by_value.verdict
    assert verdict.listed and verdict.level == pb.RISK_LEVEL_CRITICAL
    assert list(verdict.categories) == [pb.CATEGORY_TELECOM_FRAUD, pb.CATEGORY_MONEY_MULE]
    assert (verdict.source_count, verdict.report_count) == (2, 2)
    assert (verdict.first_reported.seconds, verdict.last_reported.seconds) == (NOW - 86_400, NOW - 10)
    assert by_value.list_version == 2


def test_not_listed_subject(grpc_server: InProcessServer) -> None:
    """An unknown subject answers listed=false, ALLOW / NOT_LISTED, and no other fields."""
    response = grpc_server.stub.Check(pb.CheckRequest(subject=pb.Subject(
        type=pb.ENTITY_TYPE_CARD, value="4111 1111 1111 1111")), timeout=5)
    assert response.verdict == pb.Verdict(listed=False, action=pb.ACTION_ALLOW, reason_code="NOT_LISTED")


def test_batch_returns_only_hits_with_their_index(grpc_server: InProcessServer, digester: Digester) -> None:
    """BatchCheck answers with the listed subjects only, each with its request index."""
    _add(grpc_server, digester, "bank-a", EntityType.CARD, "4111111111111111", pb.CATEGORY_OTHER, pb.RISK_LEVEL_LOW)
    subjects = [pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=f"+86 138 0000 {n:04d}") for n in range(50)]
    subjects.insert(17, pb.Subject(type=pb.ENTITY_TYPE_CARD, value="4111-1111-1111-1111"))
    response = grpc_server.stub.BatchCheck(pb.BatchCheckRequest(subjects=subjects), timeout=5)
    assert [hit.index for hit in response.hits] == [17]
    assert response.hits[0].verdict.level == pb.RISK_LEVEL_LOW


def test_all_digest_batch_returns_the_hit_with_its_index(grpc_server: InProcessServer, digester: Digester) -> None:
    """A batch of client digests only (read from the wire without protobuf objects) finds the listed one."""
    _add(grpc_server, digester, "bank-a", EntityType.CARD, "4111111111111111", pb.CATEGORY_OTHER, pb.RISK_LEVEL_LOW)
    subjects = [pb.Subject(type=pb.ENTITY_TYPE_PHONE, digest=bytes([n]) * 16) for n in range(50)]
    card = digester.digest(EntityType.CARD, "4111111111111111")
    subjects.insert(33, pb.Subject(type=pb.ENTITY_TYPE_CARD, digest=card))
    response = grpc_server.stub.BatchCheck(pb.BatchCheckRequest(subjects=subjects), timeout=5)
    assert [hit.index for hit in response.hits] == [33]
    assert response.hits[0].verdict.level == pb.RISK_LEVEL_LOW and response.list_version == 1


def test_invalid_subjects_get_field_violations_naming_the_index(grpc_server: InProcessServer) -> None:
    """A bad subject in a batch rejects the whole batch with BadRequest details per subject."""
    subjects = [
        pb.Subject(type=pb.ENTITY_TYPE_CARD, value="4111 1111 1111 1111"),
        pb.Subject(type=pb.ENTITY_TYPE_CARD, value="4111 1111 1111 1112"),
        pb.Subject(type=pb.ENTITY_TYPE_UNSPECIFIED, value="x"),
        pb.Subject(type=pb.ENTITY_TYPE_IP, digest=b"short"),
        # A resident ID whose place code is a province (stdnum's table has no county for it: it raised KeyError).
        pb.Subject(type=pb.ENTITY_TYPE_ID_NUMBER, value="11000119900101001X"),
    ]
    with pytest.raises(grpc.RpcError) as caught:
        grpc_server.stub.BatchCheck(pb.BatchCheckRequest(subjects=subjects), timeout=5)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    violations = _violations(caught.value)
    assert [field for field, _ in violations] == ["subjects[1].value", "subjects[2].type", "subjects[3].digest",
                                                  "subjects[4].value"]
    assert "Luhn" in violations[0][1] and "not a valid Chinese resident ID" in violations[3][1]
    with pytest.raises(grpc.RpcError) as caught:
        grpc_server.stub.Check(pb.CheckRequest(subject=subjects[4]), timeout=5)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT


def test_batch_over_the_maximum_is_rejected_whole(grpc_server: InProcessServer) -> None:
    """A batch above max_batch (100 in this fixture) fails with a message saying the limit."""
    raw = [pb.Subject(type=pb.ENTITY_TYPE_IP, value="192.0.2.1")] * 101
    digests = [pb.Subject(type=pb.ENTITY_TYPE_IP, digest=bytes(16))] * 101  # read straight from the wire
    for subjects in (raw, digests):
        with pytest.raises(grpc.RpcError) as caught:
            grpc_server.stub.BatchCheck(pb.BatchCheckRequest(subjects=subjects), timeout=5)
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert "maximum of 100" in caught.value.details()
        assert _violations(caught.value)[0][0] == "subjects"


def test_stream_check_answers_each_message_in_order(grpc_server: InProcessServer, digester: Digester) -> None:
    """StreamCheck yields one response per request, hits indexed within their own message."""
    _add(grpc_server, digester, "bank-a", EntityType.IP, "192.0.2.7", pb.CATEGORY_SCAM_MERCHANT, pb.RISK_LEVEL_HIGH)
    requests = [
        pb.BatchCheckRequest(subjects=[pb.Subject(type=pb.ENTITY_TYPE_IP, value=f"192.0.2.{n}")
                                       for n in range(first, first + 5)])
        for first in (0, 5, 10)
    ]
    ip_digest = digester.digest(EntityType.IP, "192.0.2.7")
    requests.append(pb.BatchCheckRequest(subjects=[pb.Subject(type=pb.ENTITY_TYPE_IP, digest=d)
                                                   for d in (bytes(16), ip_digest)]))  # all digests
    responses = list(grpc_server.stub.StreamCheck(iter(requests), timeout=5))
    assert [[hit.index for hit in r.hits] for r in responses] == [[], [2], [], [1]]


def test_stream_check_bad_message_names_it(grpc_server: InProcessServer) -> None:
    """A bad subject in the second message ends the stream naming messages[1]."""
    requests = [
        pb.BatchCheckRequest(subjects=[pb.Subject(type=pb.ENTITY_TYPE_IP, value="192.0.2.1")]),
        pb.BatchCheckRequest(subjects=[pb.Subject(type=pb.ENTITY_TYPE_IP, value="300.1.1.1")]),
    ]
    with pytest.raises(grpc.RpcError) as caught:
        list(grpc_server.stub.StreamCheck(iter(requests), timeout=5))
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert _violations(caught.value)[0][0] == "messages[1].subjects[0].value"


class _ExpiredContext:
    """A servicer context whose caller's deadline has passed."""

    def is_active(self) -> bool:
        return True

    def time_remaining(self) -> float:
        return 0.0


def test_expired_deadline_is_refused_before_work() -> None:
    """Work is not started for a caller whose deadline passed; it maps to DEADLINE_EXCEEDED."""
    with pytest.raises(DeadlineExpired) as caught:
        require_time_left(_ExpiredContext())  # type: ignore[arg-type]
    assert status_for(caught.value).code == code_pb2.DEADLINE_EXCEEDED


def test_deadline_expiring_mid_stream_ends_the_stream(grpc_server: InProcessServer) -> None:
    """A stream whose deadline passes between messages ends DEADLINE_EXCEEDED, not with answers."""
    sent_first = threading.Event()
    may_continue = threading.Event()

    def requests():  # type: ignore[no-untyped-def]
        yield pb.BatchCheckRequest(subjects=[pb.Subject(type=pb.ENTITY_TYPE_IP, value="192.0.2.1")])
        sent_first.set()
        may_continue.wait(timeout=10)
        yield pb.BatchCheckRequest(subjects=[pb.Subject(type=pb.ENTITY_TYPE_IP, value="192.0.2.2")])

    call = grpc_server.stub.StreamCheck(requests(), timeout=1.0)
    with pytest.raises(grpc.RpcError) as caught:
        for _ in call:
            pass
        may_continue.set()
    may_continue.set()
    assert sent_first.is_set()
    assert caught.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED


def test_ingest_rejects_a_bad_source_and_applies_nothing(grpc_server: InProcessServer, digester: Digester) -> None:
    """An ingest stream with an invalid source id is refused before any write."""
    def requests():  # type: ignore[no-untyped-def]
        yield pb.IngestRequest(start=pb.IngestStart(source="Bank A", mode=pb.LOAD_MODE_DELTA))
    with pytest.raises(grpc.RpcError) as caught:
        grpc_server.admin.Ingest(requests(), timeout=5)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert _violations(caught.value)[0][0] == "requests[0].start.source"


def test_ingest_under_another_secret_is_refused(grpc_server: InProcessServer, digester: Digester) -> None:
    """A loader whose secret differs from the server's gets FAILED_PRECONDITION and changes nothing."""
    grpc_server.secret_fingerprint = "0123456789abcdef"
    with pytest.raises(grpc.RpcError) as caught:
        _add(grpc_server, digester, "bank-a", EntityType.IP, "192.0.2.9", pb.CATEGORY_OTHER, pb.RISK_LEVEL_LOW)
    assert caught.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "another network secret" in caught.value.details()
    answer = grpc_server.stub.Check(pb.CheckRequest(subject=pb.Subject(type=pb.ENTITY_TYPE_IP, value="192.0.2.9")),
                                    timeout=5)
    assert not answer.verdict.listed and answer.list_version == 0


def test_health_and_reflection(grpc_server: InProcessServer) -> None:
    """The standard health service says SERVING and reflection lists risklist.v1.RiskList."""
    health = health_pb2_grpc.HealthStub(grpc_server.channel)
    answer = health.Check(health_pb2.HealthCheckRequest(service="risklist.v1.RiskList"), timeout=5)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING
    stub = reflection_pb2_grpc.ServerReflectionStub(grpc_server.channel)
    replies = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5)
    names = {service.name for reply in replies for service in reply.list_services_response.service}
    assert "risklist.v1.RiskList" in names and "grpc.health.v1.Health" in names


def test_undecodable_batch_is_invalid_argument(grpc_server: InProcessServer) -> None:
    """Bytes that are no BatchCheckRequest (the server parses them itself) are the caller's error, not INTERNAL."""
    garbled = grpc_server.channel.unary_unary("/risklist.v1.RiskList/BatchCheck")
    with pytest.raises(grpc.RpcError) as caught:
        garbled(b"\x0a\xff\xff\xff\xff\x0f", timeout=5)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid risklist.v1.BatchCheckRequest" in caught.value.details()
