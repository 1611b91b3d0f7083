"""Audit completeness: every call a real server answers or refuses is found by `risklist-admin audit`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.digest import Digester
from risklist_kernel.enums import EntityType
from risklist_kernel.secret import NetworkSecret
from tests.support.admin_ingest import PHONE, ingest_phone
from tests.support.audit_cli import audit_jsonl
from tests.support.running_server import BIN, start_server
from tests.support.waiting import wait_until

PARTNER = "dev"  # the caller of a plaintext server


def _digest_subject(digester: Digester, entity_type: EntityType, canonical: str) -> tuple[pb.Subject, str]:
    digest = digester.digest(entity_type, canonical)
    return pb.Subject(type=int(entity_type), digest=digest), (bytes((entity_type,)) + digest).hex()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_every_call_is_in_the_audit(tmp_path: Path, secret_file: Path, secret: NetworkSecret, workers: str) -> None:
    """Every method's calls (lookups, Ingest, Report, Revoke, GetEntry, ReportOutcome, filters), good and bad,
    are all found with their ids and subjects."""
    digester = Digester(secret)
    audit_dir = tmp_path / "audit"
    server = start_server(tmp_path / "db", secret_file, "--workers", workers, "--audit-dir", str(audit_dir))
    phone_key = (bytes((EntityType.PHONE,)) + digester.digest(EntityType.PHONE, PHONE)).hex()
    expected: dict[str, tuple[str, list[str], list[str]]] = {}  # request id -> method, keys, hit keys
    refused: list[str] = []
    try:
        ingest_phone(server.admin_address, secret)
        ingest = server.wait_for_log(lambda line: line.get("event") == "ingest_done")
        with grpc.insecure_channel(server.address) as channel:
            stub = pb_grpc.RiskListStub(channel)
            raw_phone = pb.Subject(type=pb.ENTITY_TYPE_PHONE, value="138 0013 8000")

            def listed() -> bool:  # with two workers, the readers follow the writer within milliseconds
                answer = stub.Check(pb.CheckRequest(subject=raw_phone), timeout=10)
                hit = answer.verdict.listed
                expected[answer.request_id] = ("Check", [phone_key], [phone_key] if hit else [])
                return hit

            wait_until(listed, timeout=10, message="the ingested phone never became visible")
            card, card_key = _digest_subject(digester, EntityType.CARD, "4111111111111111")
            by_digest, _ = _digest_subject(digester, EntityType.PHONE, PHONE)
            answer = stub.Check(pb.CheckRequest(subject=card), timeout=10)
            expected[answer.request_id] = ("Check", [card_key], [])
            batch = stub.BatchCheck(pb.BatchCheckRequest(subjects=[card, by_digest, card]), timeout=10)
            expected[batch.request_id] = ("BatchCheck", [card_key, phone_key, card_key], [phone_key])
            mixed = stub.BatchCheck(pb.BatchCheckRequest(subjects=[raw_phone, card]), timeout=10)
            expected[mixed.request_id] = ("BatchCheck", [phone_key, card_key], [phone_key])
            messages = [pb.BatchCheckRequest(subjects=[card]), pb.BatchCheckRequest(subjects=[raw_phone, by_digest])]
            for message, response in zip(messages, stub.StreamCheck(iter(messages), timeout=10), strict=True):
                keys = [card_key] if len(message.subjects) == 1 else [phone_key, phone_key]
                expected[response.request_id] = ("StreamCheck", keys, [k for k in keys if k == phone_key])
            other_phone = pb.Subject(type=pb.ENTITY_TYPE_PHONE, value="+8613900139000")
            other_key = (bytes((EntityType.PHONE,)) + digester.digest(EntityType.PHONE, "+8613900139000")).hex()
            report = stub.Report(pb.ReportRequest(reports=[pb.Report(
                subject=other_phone, category=pb.CATEGORY_MONEY_MULE, level=pb.RISK_LEVEL_HIGH)]), timeout=10)
            expected[report.request_id] = ("Report", [other_key], [])
            entry = stub.GetEntry(pb.GetEntryRequest(subject=raw_phone), timeout=10)
            expected[entry.request_id] = ("GetEntry", [phone_key], [phone_key])
            outcome = stub.ReportOutcome(pb.ReportOutcomeRequest(
                hit_request_id=batch.request_id, subject=by_digest, outcome=pb.OUTCOME_CONFIRMED_FRAUD,
                hit_token=batch.hits[0].outcome_token), timeout=10)
            expected[outcome.request_id] = ("ReportOutcome", [phone_key], [])
            revoke = stub.Revoke(pb.RevokeRequest(subjects=[other_phone]), timeout=10)
            expected[revoke.request_id] = ("Revoke", [other_key], [])
            list(stub.GetFilter(pb.GetFilterRequest(), timeout=10))
            list(stub.GetFilterUpdates(pb.GetFilterUpdatesRequest(since_version=0), timeout=10))
            bad = pb.Subject(type=pb.ENTITY_TYPE_PHONE, value="not a phone")
            for call in (lambda: stub.Check(pb.CheckRequest(subject=bad), timeout=10),
                         lambda: stub.BatchCheck(pb.BatchCheckRequest(subjects=[card, bad]), timeout=10),
                         lambda: list(stub.StreamCheck(iter([messages[0], pb.BatchCheckRequest(subjects=[bad])]),
                                                      timeout=10))):
                with pytest.raises(grpc.RpcError) as refusal:
                    call()
                assert refusal.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            refused = ["Check", "BatchCheck", "StreamCheck"]
    finally:
        assert server.terminate() == 0  # a graceful stop commits every buffered record

    assert len(set(expected)) == len(expected) and all(len(rid) == 24 for rid in expected)
    records = audit_jsonl(audit_dir, "--partner", PARTNER)
    by_id = {str(record["request_id"]): record for record in records}
    for request_id, (method, keys, hit_keys) in expected.items():
        record = by_id[request_id]
        assert (record["method"], record["status"], record["keys"], record["hit_keys"]) == \
            (method, "OK", keys, hit_keys), request_id
    ingested = [r for r in records if r["request_id"] == ingest["request_id"]]
    assert [r["method"] for r in ingested] == ["Ingest", "Ingest"] and ingested[1]["keys"] == [phone_key]
    failed = [r for r in records if r["status"] == "INVALID_ARGUMENT"]
    assert sorted(r["method"] for r in failed) == sorted(refused)
    # The streamed message before the bad one was answered, and audited as such.
    assert sum(1 for r in records if r["method"] == "StreamCheck" and r["status"] == "OK") == 3
    filters = sorted(str(r["method"]) for r in records if str(r["method"]).startswith("GetFilter"))
    assert filters == ["GetFilter", "GetFilterUpdates"]
    assert len(records) == len(expected) + len(ingested) + 1 + len(failed) + len(filters)
    stored = b"".join(path.read_bytes() for path in audit_dir.glob("*.audit"))
    assert all(raw not in stored for raw in (b"8613800138000", b"138 0013 8000", b"not a phone"))
    searches = audit_jsonl(audit_dir, "--digest", phone_key)
    assert {r["request_id"] for r in searches if r["result"] == "hit"} == \
        {rid for rid, (_, _, hits) in expected.items() if hits}


def test_server_refuses_an_unusable_audit_directory(tmp_path: Path, secret_file: Path) -> None:
    """An --audit-dir that cannot be a directory stops the server at start, exit 1, naming it."""
    blocker = tmp_path / "audit"
    blocker.write_text("a file, not a directory")
    result = subprocess.run(
        [str(BIN / "risklist-server"), "--db", str(tmp_path / "db"), "--secret-file", str(secret_file),
         "--audit-dir", str(blocker), "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--workers", "1",
         "--insecure-dev"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 1 and str(blocker) in result.stderr and "--audit-dir" in result.stderr
    assert "Traceback" not in result.stderr


def test_default_audit_directory_is_beside_the_store(tmp_path: Path, secret_file: Path) -> None:
    """Without --audit-dir, the workers' segments go to DB-audit next to the store."""
    server = start_server(tmp_path / "db", secret_file)
    assert server.terminate() == 0
    assert server.serving["audit_dir"] == str(tmp_path / "db-audit")
    assert list((tmp_path / "db-audit").glob("*-writer-*.audit"))


def test_batches_refused_for_size_are_audited_by_count_without_keys(tmp_path: Path, secret_file: Path) -> None:
    """A BatchCheck or StreamCheck message over max_batch, of digests or of raw values, is one small record
    saying how many subjects it carried (exactly for digests, at least max_batch + 1 for raw values): no keys."""
    (tmp_path / "settings.toml").write_text("max_batch = 100\n")
    audit_dir = tmp_path / "audit"
    server = start_server(tmp_path / "db", secret_file, "--config", str(tmp_path / "settings.toml"),
                          "--audit-dir", str(audit_dir))
    digests = pb.BatchCheckRequest(subjects=[pb.Subject(type=pb.ENTITY_TYPE_CARD, digest=bytes(16))] * 1000)
    raw = pb.BatchCheckRequest(subjects=[pb.Subject(type=pb.ENTITY_TYPE_PHONE, value="+8613800138000")] * 1000)
    one = pb.BatchCheckRequest(subjects=[pb.Subject(type=pb.ENTITY_TYPE_CARD, digest=bytes(16))])
    try:
        with grpc.insecure_channel(server.address) as channel:
            stub = pb_grpc.RiskListStub(channel)
            for call in (lambda: stub.BatchCheck(digests, timeout=10), lambda: stub.BatchCheck(raw, timeout=10),
                         lambda: list(stub.StreamCheck(iter([one, digests]), timeout=10)),
                         lambda: list(stub.StreamCheck(iter([raw]), timeout=10))):
                with pytest.raises(grpc.RpcError) as refusal:
                    call()
                assert refusal.value.code() == grpc.StatusCode.INVALID_ARGUMENT
                assert "exceeds the maximum of 100" in str(refusal.value.details())
    finally:
        assert server.terminate() == 0
    refused = [r for r in audit_jsonl(audit_dir, "--partner", PARTNER) if r["status"] != "OK"]
    assert [(r["method"], r["status"], r["subjects"], r["unrecorded"], r["unrecorded_at_least"]) for r in refused] == [
        ("BatchCheck", "INVALID_ARGUMENT", 0, 1000, False), ("BatchCheck", "INVALID_ARGUMENT", 0, 101, True),
        ("StreamCheck", "INVALID_ARGUMENT", 0, 1000, False), ("StreamCheck", "INVALID_ARGUMENT", 0, 101, True)]
    segments = sum(path.stat().st_size for path in audit_dir.glob("*.audit"))
    assert segments < 1_000  # five records (one answered message), not 4,000 keys


def test_requests_that_never_reach_a_servicer_are_audited(tmp_path: Path, secret_file: Path) -> None:
    """A message grpc refuses unread as larger than the port's limit (a BatchCheck, a StreamCheck message) and a
    unary call that ends its request stream without a message are each one record: partner, method, request id,
    status, no subjects, the request marked as not received."""
    (tmp_path / "settings.toml").write_text("max_batch = 100\n")  # a partner message limit of about 118 KB
    audit_dir = tmp_path / "audit"
    server = start_server(tmp_path / "db", secret_file, "--config", str(tmp_path / "settings.toml"),
                          "--audit-dir", str(audit_dir))
    huge = pb.BatchCheckRequest(subjects=[pb.Subject(type=pb.ENTITY_TYPE_CARD, digest=bytes(16))] * 10_000)
    one = pb.BatchCheckRequest(subjects=[pb.Subject(type=pb.ENTITY_TYPE_CARD, digest=bytes(16))])
    seen: list[grpc.StatusCode] = []
    try:
        with grpc.insecure_channel(server.address) as channel:
            stub = pb_grpc.RiskListStub(channel)
            no_message = channel.stream_unary("/risklist.v1.RiskList/Check")
            for call in (lambda: stub.BatchCheck(huge, timeout=10),
                         lambda: list(stub.StreamCheck(iter([one, huge]), timeout=10)),
                         lambda: no_message(iter([]), timeout=10)):
                with pytest.raises(grpc.RpcError) as refusal:
                    call()
                seen.append(refusal.value.code())
    finally:
        assert server.terminate() == 0
    assert seen == [grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.RESOURCE_EXHAUSTED,
                    grpc.StatusCode.INVALID_ARGUMENT]
    records = audit_jsonl(audit_dir, "--partner", PARTNER)
    assert [(r["method"], r["status"], r["subjects"], r["received"]) for r in records] == [
        ("BatchCheck", "CANCELLED", 0, False),  # grpc tells the server only that the call ended unread
        ("StreamCheck", "OK", 1, True), ("StreamCheck", "CANCELLED", 0, False),
        ("Check", "INVALID_ARGUMENT", 0, False)]
    assert all(len(str(r["request_id"])) == 24 for r in records)


def test_an_ingest_is_audited_under_its_source_batch_by_batch(
    tmp_path: Path, secret_file: Path, secret: NetworkSecret,
) -> None:
    """Each record of an Admin.Ingest names the source it loads under; each batch has its own record, so the
    batches applied stay OK and a refused one is recorded alone, with its count and status."""
    (tmp_path / "settings.toml").write_text("max_batch = 100\n")
    audit_dir = tmp_path / "audit"
    server = start_server(tmp_path / "db", secret_file, "--config", str(tmp_path / "settings.toml"),
                          "--audit-dir", str(audit_dir))
    digester = Digester(secret)

    def mutation(number: int) -> pb.Mutation:
        return pb.Mutation(action=pb.MUTATION_ACTION_ADD, type=pb.ENTITY_TYPE_PHONE,
                           digest=digester.digest(EntityType.PHONE, f"+86138{number:08d}"),
                           category=pb.CATEGORY_TELECOM_FRAUD, level=pb.RISK_LEVEL_HIGH,
                           reported_at=Timestamp(seconds=1_760_000_000), expires_at=Timestamp(seconds=4_000_000_000))

    requests = [pb.IngestRequest(start=pb.IngestStart(source="bank-a", mode=pb.LOAD_MODE_DELTA,
                                                      secret_fingerprint=secret.fingerprint)),
                pb.IngestRequest(batch=pb.IngestBatch(mutations=[mutation(1), mutation(2)])),
                pb.IngestRequest(batch=pb.IngestBatch(mutations=[mutation(3)])),
                pb.IngestRequest(batch=pb.IngestBatch(mutations=[mutation(4)] * 1000))]
    try:
        with grpc.insecure_channel(server.admin_address) as channel, pytest.raises(grpc.RpcError) as refusal:
            pb_grpc.AdminStub(channel).Ingest(iter(requests), timeout=10)
    finally:
        assert server.terminate() == 0
    assert refusal.value.code() == grpc.StatusCode.INVALID_ARGUMENT, refusal.value.details()
    assert "maximum of 100" in str(refusal.value.details())
    records = audit_jsonl(audit_dir, "--partner", PARTNER)
    assert len({r["request_id"] for r in records}) == 1
    assert [(r["method"], r["source"], r["status"], r["subjects"], r["unrecorded"]) for r in records] == [
        ("Ingest", "bank-a", "OK", 0, 0), ("Ingest", "bank-a", "OK", 2, 0), ("Ingest", "bank-a", "OK", 1, 0),
        ("Ingest", "bank-a", "INVALID_ARGUMENT", 0, 101)]  # mutations are counted as far as max_batch + 1
    assert records[-1]["unrecorded_at_least"]
