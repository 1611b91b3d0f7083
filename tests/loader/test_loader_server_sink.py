"""The --server sink against a small in-test Admin servicer on 127.0.0.1:0 (real grpc)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from loader_feeds import generated_rows, key_of, run_loader, write_csv
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.enums import Category, EntityType, RiskLevel
from risklist_kernel.secret import NetworkSecret
from risklist_loader.errors import SinkError
from risklist_loader.server_sink import ServerSink, mutation_to_proto
from risklist_loader.spool import Batch
from risklist_server.core.errors import SecretMismatch
from risklist_server.core.mutation import Removal, Upsert
from risklist_server.core.record import Contribution
from risklist_server.rpc.access.gate import Gate
from risklist_server.rpc.admin_servicer import AdminServicer
from risklist_server.services.ingest import LoadMode
from risklist_server.store.apply import ApplyResult
from risklist_server.store.risk_store import RiskStore


@dataclass
class RecordingAdmin(pb_grpc.AdminServicer):
    """Records every request; optionally refuses the Nth batch the way risklist-server does."""

    refuse_batch: int = 0
    requests: list[pb.IngestRequest] = field(default_factory=list)
    fingerprint: str = "f1ngerprint"
    """The secret fingerprint GetNetworkInfo advertises ("": the method is not implemented, an older server)."""

    def GetNetworkInfo(
        self, request: pb.GetNetworkInfoRequest, context: grpc.ServicerContext
    ) -> pb.GetNetworkInfoResponse:
        if not self.fingerprint:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not implemented!")
        return pb.GetNetworkInfoResponse(secret_fingerprint=self.fingerprint, list_version=77)

    def Ingest(self, request_iterator: Iterator[pb.IngestRequest], context: grpc.ServicerContext) -> pb.IngestResponse:
        for request in request_iterator:
            self.requests.append(request)
            if self.refuse_batch and len(self.requests) == self.refuse_batch + 1:
                violation = error_details_pb2.BadRequest.FieldViolation(
                    field=f"requests[{self.refuse_batch}].batch.mutations[0].digest", description="bad digest")
                status = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message="1 invalid subject(s)")
                status.details.add().Pack(error_details_pb2.BadRequest(field_violations=[violation]))
                context.abort_with_status(rpc_status.to_status(status))
        mutations = sum(len(r.batch.mutations) for r in self.requests)
        return pb.IngestResponse(added=mutations, unchanged=1, removed=2, not_listed=3, swept=4, list_version=77)


@pytest.fixture()
def admin() -> Iterator[tuple[RecordingAdmin, str]]:
    servicer = RecordingAdmin()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    pb_grpc.add_AdminServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield servicer, f"127.0.0.1:{port}"
    server.stop(None).wait()


KEY = bytes((EntityType.PHONE,)) + bytes(range(16))
UPSERT = Upsert(KEY, Contribution("bank-a", Category.MONEY_MULE, RiskLevel.HIGH, 1_700_000_000, 1_800_000_000, "r-1"))


def test_mutations_convert_to_the_wire_form() -> None:
    """The storage key splits into type and digest; a category-less remove sends UNSPECIFIED."""
    add = mutation_to_proto(UPSERT)
    assert (add.action, add.type, add.digest) == (pb.MUTATION_ACTION_ADD, pb.ENTITY_TYPE_PHONE, bytes(range(16)))
    assert (add.category, add.level, add.reference) == (pb.CATEGORY_MONEY_MULE, pb.RISK_LEVEL_HIGH, "r-1")
    assert (add.reported_at.seconds, add.expires_at.seconds) == (1_700_000_000, 1_800_000_000)
    remove = mutation_to_proto(Removal(KEY, "bank-a", None))
    assert (remove.action, remove.category, remove.HasField("reported_at")) == (
        pb.MUTATION_ACTION_REMOVE, pb.CATEGORY_UNSPECIFIED, False)


def test_sink_streams_start_then_batches(admin: tuple[RecordingAdmin, str]) -> None:
    """One start message with source and mode, then one message per batch; counts come back."""
    servicer, address = admin
    sink = ServerSink(address, "f1ngerprint", connect_timeout=5)
    sink.open()
    seen: list[tuple[int, ApplyResult | None]] = []
    batches = [Batch(1, 2, 3, [UPSERT, Removal(KEY, "bank-a", Category.GAMBLING)]), Batch(2, 4, 4, [UPSERT])]
    try:
        outcome = sink.load("bank-a", LoadMode.SNAPSHOT, batches,
                            lambda batch, result: seen.append((batch.number, result)))
    finally:
        sink.close()
    assert servicer.requests[0] == pb.IngestRequest(
        start=pb.IngestStart(source="bank-a", mode=pb.LOAD_MODE_SNAPSHOT, secret_fingerprint="f1ngerprint"))
    assert [len(r.batch.mutations) for r in servicer.requests[1:]] == [2, 1]
    assert servicer.requests[1].batch.mutations[1].category == pb.CATEGORY_GAMBLING
    assert seen == [(1, None), (2, None)]
    assert outcome.list_version == 77
    assert outcome.result == ApplyResult(added=3, unchanged=1, removed=2, not_listed=3, swept=4)


def test_a_server_under_another_secret_is_refused_before_any_ingest(admin: tuple[RecordingAdmin, str]) -> None:
    """open() compares the server's secret fingerprint and refuses another one: no Ingest call is made."""
    servicer, address = admin
    servicer.fingerprint = "0ther0ther0ther0"
    sink = ServerSink(address, "f1ngerprint", connect_timeout=5, secret_origin="the secret file s.hex")
    try:
        with pytest.raises(SecretMismatch) as caught:
            sink.open()
    finally:
        sink.close()
    assert servicer.requests == []
    message = str(caught.value)
    assert "the secret file s.hex holds another network secret than the server at" in message
    assert "f1ngerprint" in message and "0ther0ther0ther0" in message and "Nothing was sent" in message


def test_a_server_without_get_network_info_still_checks_the_secret_at_ingest(
    admin: tuple[RecordingAdmin, str]
) -> None:
    """An older server (no GetNetworkInfo) is loaded as before: its Ingest start message compares the secret."""
    servicer, address = admin
    servicer.fingerprint = ""
    sink = ServerSink(address, "f1ngerprint", connect_timeout=5)
    sink.open()
    try:
        sink.load("bank-a", LoadMode.DELTA, [Batch(1, 1, 1, [UPSERT])], lambda batch, result: None)
    finally:
        sink.close()
    assert servicer.requests[0].start.secret_fingerprint == "f1ngerprint"


def test_server_refusal_becomes_a_clear_error(admin: tuple[RecordingAdmin, str]) -> None:
    """INVALID_ARGUMENT with BadRequest details is reported with the violations and a re-run hint."""
    servicer, address = admin
    servicer.refuse_batch = 2
    sink = ServerSink(address, "f1ngerprint", connect_timeout=5)
    sink.open()
    batches = [Batch(n, n, n, [UPSERT]) for n in range(1, 4)]
    with pytest.raises(SinkError) as caught:
        sink.load("bank-a", LoadMode.DELTA, batches, lambda batch, result: None)
    sink.close()
    message = str(caught.value)
    assert f"the server at {address} answered INVALID_ARGUMENT: 1 invalid subject(s)" in message
    assert "[requests[2].batch.mutations[0].digest: bad digest]" in message
    assert "re-run the same command" in message


def test_cli_loads_through_the_server(
    tmp_path: Path, secret_file: Path, secret: NetworkSecret, admin: tuple[RecordingAdmin, str]
) -> None:
    """risklist-load --server sends digests computed with the secret and prints the server's counts."""
    servicer, address = admin
    servicer.fingerprint = secret.fingerprint
    rows = generated_rows(5)
    feed = write_csv(tmp_path / "feed.csv", rows)
    result = run_loader(tmp_path, feed, "--source", "bank-a", "--server", address, "--insecure",
                        "--secret-file", secret_file,
                        "--batch-size", "2")
    assert result.returncode == 0, result.stderr
    assert "list_version 77" in result.stdout and "added 5" in result.stdout
    assert result.stderr.count('"event": "batch_sent"') == 3
    sent = [bytes((m.type,)) + m.digest for r in servicer.requests[1:] for m in r.batch.mutations]
    expected = [key_of(secret, EntityType.from_feed_name(str(row["entity_type"])), str(row["identifier"]))
                for row in rows]
    assert sent == sorted(expected), "every row's digest under the secret, sent in storage-key order"


def test_cli_reports_a_server_refusal(
    tmp_path: Path, secret_file: Path, secret: NetworkSecret, admin: tuple[RecordingAdmin, str]
) -> None:
    """A refused stream exits 1 with the server's status and field violations, no traceback."""
    servicer, address = admin
    servicer.fingerprint = secret.fingerprint
    servicer.refuse_batch = 1
    feed = write_csv(tmp_path / "feed.csv", generated_rows(5))
    result = run_loader(tmp_path, feed, "--source", "bank-a", "--server", address, "--insecure",
                        "--secret-file", secret_file)
    assert result.returncode == 1
    assert "answered INVALID_ARGUMENT: 1 invalid subject(s) [requests[1].batch.mutations[0].digest" in result.stderr
    assert "Traceback" not in result.stderr


class OlderServer(pb_grpc.AdminServicer):
    """A server from before GetNetworkInfo (the loader cannot compare secrets first); its Ingest is risklist-server's
    own AdminServicer on a real store."""

    def __init__(self, real: AdminServicer) -> None:
        self._real = real

    def GetNetworkInfo(
        self, request: pb.GetNetworkInfoRequest, context: grpc.ServicerContext
    ) -> pb.GetNetworkInfoResponse:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not implemented!")
        raise AssertionError("unreachable")

    def Ingest(self, request_iterator: Iterator[pb.IngestRequest], context: grpc.ServicerContext) -> pb.IngestResponse:
        return self._real.Ingest((request.SerializeToString() for request in request_iterator), context)


def test_cli_says_once_that_a_refused_secret_applied_nothing(tmp_path: Path, secret_file: Path) -> None:
    """The server's Ingest refusing the loader's secret at the start prints one error line that says once, at its
    end, that nothing was applied (it said 'Nothing was applied.; nothing was applied')."""
    server_secret = NetworkSecret(secrets.token_bytes(32))
    loader_secret = NetworkSecret.from_hex(secret_file.read_text(), origin="test")
    with RiskStore(tmp_path / "db", create=True, secret_fingerprint=server_secret.fingerprint) as store:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        pb_grpc.add_AdminServicer_to_server(OlderServer(AdminServicer(store, gate=Gate())), server)
        address = f"127.0.0.1:{server.add_insecure_port('127.0.0.1:0')}"
        server.start()
        try:
            result = run_loader(tmp_path, write_csv(tmp_path / "feed.csv", generated_rows(5)), "--source", "bank-a",
                                "--server", address, "--insecure", "--secret-file", secret_file, "--quiet")
        finally:
            server.stop(None).wait()
        assert store.version == 0
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("risklist-load: error:")]
    assert errors == [
        f"risklist-load: error: the server at {address} answered FAILED_PRECONDITION: the loader digested under "
        f"another network secret (fingerprint {loader_secret.fingerprint}, this server's is "
        f"{server_secret.fingerprint}); load with the secret the server runs with; nothing was applied"
    ]
