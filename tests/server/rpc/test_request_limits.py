"""Batches counted on the wire before any work, bounded error details, undecodable requests as INVALID_ARGUMENT."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.digest import Digester
from risklist_kernel.identifiers import Normaliser
from risklist_kernel.secret import NetworkSecret
from risklist_server.core.settings import Settings
from risklist_server.core.subject import SubjectResolver
from risklist_server.rpc.access.caller import Caller
from risklist_server.rpc.app import create_admin_server, create_server
from risklist_server.rpc.contribution_calls import contribution_calls
from risklist_server.rpc.write_calls import LocalWrites, ResponseT
from risklist_server.services.contributions import ContributionService
from risklist_server.services.lookup import LookupService
from risklist_server.store.risk_store import RiskStore
from tests.support.running_server import ServerProcess, start_server

MAX_BATCH = 10_000
FAR_OVER = 2_500_000
"""Empty subjects in a 5 MB request (under the partner port's message-size limit, so the count on the wire is what
refuses it): unpacked one by one they took the reader hundreds of MB."""
RSS_GROWTH_ALLOWED = 100 * 1024 * 1024
VALID_PHONES = [f"+86138{number:08d}" for number in range(1800)]
TOO_MANY_VIOLATIONS = "TOO_MANY_VIOLATIONS"
"""The ErrorInfo reason of a cut-short violation list, as docs/api.md names it on the wire."""


class AuditRecords:
    """An audit sink keeping (method, status) of each record."""

    def __init__(self) -> None:
        self.records: list[tuple[str, str]] = []

    def append(self, time_ns: int, partner: str, method: str, request_id: str, status: str,
               keys: bytes, hits: Sequence[int], *, source: str = "", unrecorded: int = 0, at_least: bool = False,
               received: bool = True) -> None:
        self.records.append((method, status))


class RecordingWrites:
    """A write gateway that only records what reached it (the writer link's place)."""

    def __init__(self, inner: LocalWrites) -> None:
        self.inner = inner
        self.submitted: list[str] = []

    def submit(self, method: str, caller: Caller, request_id: str, request: Message, response_type: type[ResponseT],
               *, timeout: float | None = None) -> ResponseT:
        self.submitted.append(method)
        return self.inner.submit(method, caller, request_id, request, response_type, timeout=timeout)


@dataclass
class Served:
    channel: grpc.Channel
    admin_channel: grpc.Channel
    stub: pb_grpc.RiskListStub
    writes: RecordingWrites
    audit: AuditRecords


@pytest.fixture()
def served(store: RiskStore, digester: Digester) -> Iterator[Served]:
    resolver = SubjectResolver(Normaliser("CN"), digester)
    writes = RecordingWrites(LocalWrites(contribution_calls(ContributionService(store, resolver, Settings()))))
    audit = AuditRecords()
    lookup = LookupService(store, resolver, max_batch=MAX_BATCH)
    server, port, _ = create_server("127.0.0.1:0", lookup, writes=writes, audit=audit)
    admin, admin_port, _ = create_admin_server("127.0.0.1:0", store, audit=audit)
    server.start()
    admin.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    admin_channel = grpc.insecure_channel(f"127.0.0.1:{admin_port}")
    yield Served(channel, admin_channel, pb_grpc.RiskListStub(channel), writes, audit)
    channel.close()
    admin_channel.close()
    server.stop(None).wait()
    admin.stop(None).wait()


def _status(error: grpc.RpcError) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """The BadRequest violations and (if any) the ErrorInfo metadata of a failed call."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    violations: list[tuple[str, str]] = []
    info: dict[str, str] = {}
    for detail in status.details:
        bad_request = error_details_pb2.BadRequest()
        error_info = error_details_pb2.ErrorInfo()
        if detail.Unpack(bad_request):
            violations = [(v.field, v.description) for v in bad_request.field_violations]
        elif detail.Unpack(error_info):
            assert error_info.reason == TOO_MANY_VIOLATIONS
            info = dict(error_info.metadata)
    return violations, info


def _peak_rss(pid: int) -> int:
    """The process's peak resident set (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for process {pid}")


@pytest.fixture()
def server_process(tmp_path: Path, secret_file: Path) -> Iterator[ServerProcess]:
    running = start_server(tmp_path / "db", secret_file)
    yield running
    running.terminate()


def test_batches_far_over_the_maximum_are_refused_before_the_reader_unpacks_them(
    server_process: ServerProcess,
) -> None:
    """A BatchCheck or StreamCheck message of millions of subjects is refused, naming the maximum, without
    the worker's memory growing by the hundreds of MB unpacking them would take."""
    pids = server_process.serving["pids"]
    assert isinstance(pids, dict) and len(pids) == 1
    worker = int(next(iter(pids.values())))
    request = b"\x0a\x00" * FAR_OVER  # FAR_OVER empty subjects
    with grpc.insecure_channel(server_process.address) as channel:
        batch = channel.unary_unary("/risklist.v1.RiskList/BatchCheck")
        stream = channel.stream_stream("/risklist.v1.RiskList/StreamCheck")
        batch(b"", timeout=10)  # the worker's buffers for a first call are in place
        for call in (lambda: batch(request, timeout=30), lambda: list(stream(iter([request]), timeout=30))):
            before = _peak_rss(worker)
            with pytest.raises(grpc.RpcError) as caught:
                call()
            assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
            assert f"maximum of {MAX_BATCH}" in caught.value.details()
            assert _peak_rss(worker) - before < RSS_GROWTH_ALLOWED


def test_a_legal_raw_batch_as_long_as_too_many_digests_is_answered(served: Served) -> None:
    """9,900 raw values whose bytes are a multiple of a digest record's (as many bytes as 11,250 digests)
    are a legal batch: counted as raw values, answered (they were refused as 11,250 subjects)."""
    request = pb.BatchCheckRequest(subjects=[pb.Subject(type=pb.ENTITY_TYPE_EMAIL, value="user0001@example.cn")]
                                   * 9_900)
    assert len(request.SerializeToString()) == 11_250 * 22
    answer = served.stub.BatchCheck(request, timeout=30)
    assert list(answer.hits) == [] and ("BatchCheck", "OK") in served.audit.records


@pytest.mark.parametrize("method", ["Report", "Revoke"])
def test_writes_over_the_maximum_are_refused_before_reaching_the_writer(served: Served, method: str) -> None:
    """A Report or Revoke over max_batch is INVALID_ARGUMENT naming the maximum, and never handed to the writer."""
    request: Message = (pb.ReportRequest(reports=[pb.Report()] * (MAX_BATCH * 5)) if method == "Report"
                        else pb.RevokeRequest(subjects=[pb.Subject()] * (MAX_BATCH * 5)))
    call = served.channel.unary_unary(f"/risklist.v1.RiskList/{method}")
    with pytest.raises(grpc.RpcError) as caught:
        call(request.SerializeToString(), timeout=10)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert f"maximum of {MAX_BATCH}" in caught.value.details()
    assert served.writes.submitted == []
    assert (method, "INVALID_ARGUMENT") in served.audit.records


def test_many_invalid_subjects_list_the_first_hundred_and_count_the_rest(served: Served) -> None:
    """200 invalid phones in a 2,000-subject batch are INVALID_ARGUMENT (not a trailer overflow): the details
    list the first violations (at most 100, as many as fit the trailer) and say how many there were."""
    subjects = [pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=phone) for phone in VALID_PHONES]
    subjects += [pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=f"12{number}") for number in range(200)]
    with pytest.raises(grpc.RpcError) as caught:
        served.stub.BatchCheck(pb.BatchCheckRequest(subjects=subjects), timeout=10)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    violations, info = _status(caught.value)
    listed = len(violations)
    assert 20 <= listed <= 100
    assert [field for field, _ in violations] == [f"subjects[{1800 + index}].value" for index in range(listed)]
    assert all("not a valid number" in description for _, description in violations)
    assert info == {"total": "200", "listed": str(listed)}
    assert f"first {listed} of 200" in caught.value.details()


def test_many_over_long_references_in_a_report_are_invalid_argument(served: Served) -> None:
    """300 over-long references in a Report are INVALID_ARGUMENT with bounded details, not INTERNAL."""
    reports = [pb.Report(subject=pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=VALID_PHONES[index]),
                         category=pb.CATEGORY_MONEY_MULE, level=pb.RISK_LEVEL_HIGH, reference="R" * 500)
               for index in range(300)]
    with pytest.raises(grpc.RpcError) as caught:
        served.stub.Report(pb.ReportRequest(reports=reports), timeout=10)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    violations, info = _status(caught.value)
    assert violations[0] == ("reports[0].reference", "500 characters; at most 64")
    assert info == {"total": "300", "listed": str(len(violations))}


GARBAGE = b"\x0a\xff\xff\xff\xff\x0f"  # field 1, a length no message has
UNARY = [("RiskList", "Check"), ("RiskList", "Report"), ("RiskList", "Revoke"), ("RiskList", "GetEntry"),
         ("RiskList", "ReportOutcome"), ("Admin", "GetQuality")]


@pytest.mark.parametrize(("service", "method"), UNARY, ids=[method for _, method in UNARY])
def test_undecodable_bytes_to_a_unary_method_are_invalid_argument(served: Served, service: str, method: str) -> None:
    """Bytes that are not the method's request message are the caller's error (INVALID_ARGUMENT saying so),
    not INTERNAL, and the call is audited as refused."""
    channel = served.admin_channel if service == "Admin" else served.channel
    with pytest.raises(grpc.RpcError) as caught:
        channel.unary_unary(f"/risklist.v1.{service}/{method}")(GARBAGE, timeout=5)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "is not a valid risklist.v1." in caught.value.details()
    assert (method, "INVALID_ARGUMENT") in served.audit.records


def test_undecodable_bytes_opening_an_ingest_are_invalid_argument(served: Served) -> None:
    """Undecodable bytes sent to Admin.Ingest are INVALID_ARGUMENT saying so, and audited as refused."""
    with pytest.raises(grpc.RpcError) as caught:
        served.admin_channel.stream_unary("/risklist.v1.Admin/Ingest")(iter([GARBAGE]), timeout=5)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "is not a valid risklist.v1.IngestRequest" in caught.value.details()
    assert ("Ingest", "INVALID_ARGUMENT") in served.audit.records


def test_an_ingest_batch_over_the_maximum_is_refused_naming_it(
    tmp_path: Path, secret_file: Path, secret: NetworkSecret,
) -> None:
    """An Admin.Ingest batch of more mutations than max_batch is INVALID_ARGUMENT naming the maximum."""
    (tmp_path / "settings.toml").write_text("max_batch = 100\n")
    server = start_server(tmp_path / "db", secret_file, "--config", str(tmp_path / "settings.toml"))

    def requests() -> Iterator[pb.IngestRequest]:
        yield pb.IngestRequest(start=pb.IngestStart(source="bank-a", mode=pb.LOAD_MODE_DELTA,
                                                    secret_fingerprint=secret.fingerprint))
        yield pb.IngestRequest(batch=pb.IngestBatch(mutations=[pb.Mutation()] * 100_000))

    try:
        with grpc.insecure_channel(server.admin_address) as channel, pytest.raises(grpc.RpcError) as caught:
            pb_grpc.AdminStub(channel).Ingest(requests(), timeout=10)
    finally:
        server.terminate()
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "maximum of 100" in caught.value.details() and "mutations" in caught.value.details()
