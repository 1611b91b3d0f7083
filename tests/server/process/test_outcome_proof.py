"""Outcomes only for real hits (issue 12, item 1), over real mutual TLS with two workers: a hit's outcome token
is the only way to grade a source; member, subject, request id and window are all bound into it."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import grpc
import pytest
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.digest import Digester
from risklist_kernel.enums import EntityType
from risklist_kernel.secret import NetworkSecret, write_secret
from risklist_server.store.replica import ReplicaStore
from tests.support.mtls import DevNetwork, dev_network
from tests.support.policies import TRUSTED_SOURCE_POLICY
from tests.support.running_server import ServerProcess, start_server
from tests.support.waiting import wait_until

PARTNERS = """
[partners.bank-a]
roles = ["query", "contribute"]

[partners.bank-b]
roles = ["query"]

[partners.bank-c]
roles = ["query"]

[partners.operator]
roles = ["admin"]
"""
CONFIG = "outcome_window_days = 30\n"
DAY = 86_400
T = TypeVar("T")


@dataclass
class Network:
    dev: DevNetwork
    server: ServerProcess
    secret: NetworkSecret
    db: Path
    directory: Path

    def channel(self, partner: str) -> grpc.Channel:
        """A new connection as `partner` (SO_REUSEPORT hands each to either worker)."""
        return self.dev.channel(self.server.address, partner)

    def stub(self, partner: str) -> pb_grpc.RiskListStub:
        return pb_grpc.RiskListStub(self.channel(partner))

    def quality(self) -> dict[str, pb.SourceQuality]:
        with self.dev.channel(self.server.admin_address, "operator") as channel:
            response = pb_grpc.AdminStub(channel).GetQuality(pb.GetQualityRequest(), timeout=30)
        return {row.source: row for row in response.sources}


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    directory = tmp_path_factory.mktemp("outcome-proof")
    secret = NetworkSecret(secrets.token_bytes(32))
    write_secret(directory / "network.secret", secret)
    (directory / "config.toml").write_text(CONFIG)
    dev = dev_network(directory, PARTNERS)
    server = start_server(directory / "db", directory / "network.secret", "--workers", "2",
                          "--config", str(directory / "config.toml"), tls=dev.server_tls)
    yield Network(dev, server, secret, directory / "db", directory)
    assert server.terminate() == 0


def _phone(number: int) -> pb.Subject:
    return pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=f"+86139{number:08d}")


def _storage_key(network: Network, number: int) -> bytes:
    return bytes((EntityType.PHONE,)) + Digester(network.secret).digest(EntityType.PHONE, f"+86139{number:08d}")


def _until(condition: Callable[[], T | None], timeout: float, what: str) -> T:
    return wait_until(condition, timeout=timeout, interval=0.05, message=f"{what} did not happen")


def _listed_by_bank_a(network: Network, *numbers: int) -> None:
    """bank-a reports the phones; return once a check (on some worker) sees the last of them."""
    reports = [pb.Report(subject=_phone(n), category=pb.CATEGORY_MONEY_MULE, level=pb.RISK_LEVEL_HIGH)
               for n in numbers]
    with network.channel("bank-a") as channel:
        version = pb_grpc.RiskListStub(channel).Report(pb.ReportRequest(reports=reports), timeout=10).list_version

    def everywhere() -> bool:  # a fresh connection each time: both workers must have caught up
        for _ in range(6):
            with network.channel("bank-c") as channel:
                if pb_grpc.RiskListStub(channel).Check(pb.CheckRequest(subject=_phone(numbers[-1])),
                                                       timeout=10).list_version < version:
                    return False
        return True

    _until(everywhere, 10, "the reports reaching both workers")


def _report_outcome(network: Network, partner: str, request: pb.ReportOutcomeRequest) -> pb.ReportOutcomeResponse:
    """ReportOutcome on a fresh connection (so possibly another worker than the check's)."""
    with network.channel(partner) as channel:
        response: pb.ReportOutcomeResponse = pb_grpc.RiskListStub(channel).ReportOutcome(request, timeout=10)
    return response


def _refused(network: Network, partner: str, request: pb.ReportOutcomeRequest) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        _report_outcome(network, partner, request)
    return raised.value


def _verified(network: Network, source: str) -> tuple[int, int, int, int]:
    row = network.quality().get(source)
    if row is None:
        return (0, 0, 0, 0)
    return (row.confirmed_fraud, row.false_positive, row.customer_explained, row.unknown)


def test_outcomes_made_up_from_the_filter_are_refused(network: Network) -> None:
    """The issue's attack: every listed key from GetFilterUpdates, FALSE_POSITIVE, request id 000…0, no token:
    each outcome is refused and the listing bank's precision does not move."""
    numbers = list(range(1, 11))
    _listed_by_bank_a(network, *numbers)
    before = _verified(network, "bank-a")
    with network.channel("bank-b") as channel:
        updates = list(pb_grpc.RiskListStub(channel).GetFilterUpdates(pb.GetFilterUpdatesRequest(since_version=0),
                                                                       timeout=10))
    added = b"".join(update.added_keys for update in updates)
    keys = [added[i : i + 17] for i in range(0, len(added), 17)]
    assert {_storage_key(network, n) for n in numbers} <= set(keys)
    for key in keys:
        error = _refused(network, "bank-b", pb.ReportOutcomeRequest(
            hit_request_id="0" * 24, subject=pb.Subject(type=key[0], digest=key[1:]),
            outcome=pb.OUTCOME_FALSE_POSITIVE))
        assert error.code() is grpc.StatusCode.FAILED_PRECONDITION, error.details()
        assert "hit_token" in (error.details() or "") and "outcome_token" in (error.details() or "")
    assert _verified(network, "bank-a") == before


def test_forged_borrowed_and_misapplied_tokens_are_refused(network: Network) -> None:
    """A random token, another member's token, and a token for another subject are all refused alike, and the
    refusal reads the same for a listed and an unlisted subject."""
    _listed_by_bank_a(network, 20, 21)
    before = _verified(network, "bank-a")
    with network.channel("bank-c") as channel:
        seen_by_c = pb_grpc.RiskListStub(channel).Check(pb.CheckRequest(subject=_phone(20)), timeout=10)
    with network.channel("bank-b") as channel:
        seen_by_b = pb_grpc.RiskListStub(channel).Check(pb.CheckRequest(subject=_phone(20)), timeout=10)
    assert seen_by_c.verdict.listed and len(seen_by_c.outcome_token) == 16
    assert seen_by_b.verdict.listed and seen_by_b.outcome_token != seen_by_c.outcome_token

    def request(answer: pb.CheckResponse, subject: pb.Subject, token: bytes) -> pb.ReportOutcomeRequest:
        return pb.ReportOutcomeRequest(hit_request_id=answer.request_id, subject=subject, hit_token=token,
                                       outcome=pb.OUTCOME_FALSE_POSITIVE)

    attempts = {
        "forged": request(seen_by_b, _phone(20), secrets.token_bytes(16)),
        "another member's": request(seen_by_c, _phone(20), seen_by_c.outcome_token),
        "another listed subject": request(seen_by_b, _phone(21), seen_by_b.outcome_token),
        "an unlisted subject": request(seen_by_b, _phone(29), seen_by_b.outcome_token),
        "truncated": request(seen_by_b, _phone(20), seen_by_b.outcome_token[:8]),
    }
    refusals = {name: _refused(network, "bank-b", attempt) for name, attempt in attempts.items()}
    assert {(e.code(), e.details()) for e in refusals.values()} == \
        {(grpc.StatusCode.FAILED_PRECONDITION, refusals["forged"].details())}, refusals
    assert "outcome_token" in (refusals["forged"].details() or "")
    assert _verified(network, "bank-a") == before
    # The same token from its own member, for its own subject, is accepted.
    accepted = _report_outcome(network, "bank-c", request(seen_by_c, _phone(20), seen_by_c.outcome_token))
    assert accepted.sources_credited == 1


def _outcome_key(network: Network) -> bytes:
    """The server's outcome key, read from its store as only an insider with the store's files could."""
    replica = ReplicaStore(network.db, network.directory / f"secondary-{os.getpid()}",
                           secret_fingerprint=network.secret.fingerprint)
    try:
        key = replica.outcome_key()
    finally:
        replica.close()
    assert key is not None and len(key) == 32
    return key


def _token(key: bytes, partner: str, request_id: str, storage_key: bytes) -> bytes:
    """docs/api.md's definition: HMAC-SHA256(outcome key, partner id || request id bytes || storage key)[:16]."""
    return hmac.new(key, partner.encode() + bytes.fromhex(request_id) + storage_key, hashlib.sha256).digest()[:16]


def _request_id(issued_at: int) -> str:
    return (issued_at.to_bytes(4, "big") + secrets.token_bytes(8)).hex()


def test_outcomes_outside_the_window_are_refused(network: Network) -> None:
    """A well-made token under a request id issued 31 days ago, or an hour ahead, is refused; 29 days ago is not."""
    _listed_by_bank_a(network, 30)
    key, storage_key, now = _outcome_key(network), _storage_key(network, 30), int(time.time())

    def outcome(issued_at: int) -> pb.ReportOutcomeRequest:
        request_id = _request_id(issued_at)
        return pb.ReportOutcomeRequest(hit_request_id=request_id, subject=_phone(30), outcome=pb.OUTCOME_UNKNOWN,
                                       hit_token=_token(key, "bank-b", request_id, storage_key))

    for issued_at in (now - 31 * DAY, now + 3600):
        error = _refused(network, "bank-b", outcome(issued_at))
        assert error.code() is grpc.StatusCode.FAILED_PRECONDITION
        assert "30 days" in (error.details() or "")
    assert _report_outcome(network, "bank-b", outcome(now - 29 * DAY)).sources_credited == 1


def test_real_hits_of_every_answer_shape_are_counted(network: Network) -> None:
    """Hits answered by Check, BatchCheck (raw values, and digests only) and StreamCheck each carry a token, misses
    none; an outcome with it, sent on another connection (maybe another worker), is accepted and counted."""
    numbers = [40, 41, 42, 43]
    _listed_by_bank_a(network, *numbers)
    before = _verified(network, "bank-a")
    digester = Digester(network.secret)
    by_digest = [pb.Subject(type=pb.ENTITY_TYPE_PHONE, digest=digester.digest(EntityType.PHONE, f"+86139{n:08d}"))
                 for n in numbers]
    miss = _phone(49)
    proofs: list[tuple[str, pb.Subject, bytes]] = []
    with network.channel("bank-b") as channel:
        stub = pb_grpc.RiskListStub(channel)
        check = stub.Check(pb.CheckRequest(subject=_phone(40)), timeout=10)
        proofs.append((check.request_id, _phone(40), check.outcome_token))
        assert stub.Check(pb.CheckRequest(subject=miss), timeout=10).outcome_token == b""
        raw = stub.BatchCheck(pb.BatchCheckRequest(subjects=[miss, _phone(41)]), timeout=10)
        digests = stub.BatchCheck(pb.BatchCheckRequest(subjects=[by_digest[2], by_digest[0]]), timeout=10)
        streamed = list(stub.StreamCheck(iter([pb.BatchCheckRequest(subjects=[by_digest[3]])]), timeout=10))
    assert [hit.index for hit in raw.hits] == [1] and [hit.index for hit in digests.hits] == [0, 1]
    proofs.append((raw.request_id, _phone(41), raw.hits[0].outcome_token))
    proofs.append((digests.request_id, by_digest[2], digests.hits[0].outcome_token))
    proofs.append((streamed[0].request_id, by_digest[3], streamed[0].hits[0].outcome_token))
    assert digests.hits[1].outcome_token not in (b"", digests.hits[0].outcome_token)
    for request_id, subject, token in proofs:
        assert len(token) == 16
        response = _report_outcome(network, "bank-b", pb.ReportOutcomeRequest(
            hit_request_id=request_id, subject=subject, hit_token=token, outcome=pb.OUTCOME_CONFIRMED_FRAUD))
        assert response.sources_credited == 1
    confirmed, *rest = before
    assert _verified(network, "bank-a") == (confirmed + 4, *rest)


def test_tokens_stay_valid_across_a_restart(tmp_path: Path, secret_file: Path, secret: NetworkSecret) -> None:
    """The outcome key lives in the store: a token issued before a restart is accepted after it."""
    from tests.support.admin_ingest import PHONE, ingest_phone

    server = start_server(tmp_path / "db", secret_file)
    try:
        ingest_phone(server.admin_address, secret)
        with grpc.insecure_channel(server.address) as channel:
            hit = pb_grpc.RiskListStub(channel).Check(pb.CheckRequest(subject=pb.Subject(
                type=pb.ENTITY_TYPE_PHONE, value=PHONE)), timeout=10)
    finally:
        assert server.terminate() == 0
    assert hit.verdict.listed and len(hit.outcome_token) == 16
    server = start_server(tmp_path / "db", secret_file)
    try:
        with grpc.insecure_channel(server.address) as channel:
            response = pb_grpc.RiskListStub(channel).ReportOutcome(pb.ReportOutcomeRequest(
                hit_request_id=hit.request_id, subject=pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=PHONE),
                hit_token=hit.outcome_token, outcome=pb.OUTCOME_CONFIRMED_FRAUD), timeout=10)
    finally:
        assert server.terminate() == 0
    assert response.sources_credited == 1




def test_outcomes_recorded_before_verification_are_shown_apart_and_ignored_by_the_policy(
    tmp_path: Path, secret_file: Path, secret: NetworkSecret
) -> None:
    """A store whose tallies were recorded before outcomes were verified: risklist-admin quality shows them as
    legacy (unverified), and a min_source_precision rule does not count them."""
    import json
    import subprocess

    from risklist_server.core.outcome import SourceTally
    from risklist_server.store.risk_store import init_store
    from risklist_server.store.rocks import OUTCOMES_CF, open_rocks
    from tests.support.admin_ingest import PHONE, ingest_phone
    from tests.support.running_server import BIN

    init_store(tmp_path / "db", secret.fingerprint)
    db = open_rocks(str(tmp_path / "db"))
    try:  # what the outcomes column family held before: a tally per source under b"t" + source id
        db.get_column_family(OUTCOMES_CF).put(b"t" + b"bank-a", SourceTally(confirmed_fraud=9, unknown=2).encode())
    finally:
        db.close()
    (tmp_path / "policy.toml").write_text(TRUSTED_SOURCE_POLICY)
    (tmp_path / "config.toml").write_text("precision_min_outcomes = 2\n")
    server = start_server(tmp_path / "db", secret_file, "--policy", str(tmp_path / "policy.toml"),
                          "--config", str(tmp_path / "config.toml"))
    try:
        ingest_phone(server.admin_address, secret)
        with grpc.insecure_channel(server.address) as channel:
            verdict = pb_grpc.RiskListStub(channel).Check(pb.CheckRequest(subject=pb.Subject(
                type=pb.ENTITY_TYPE_PHONE, value=PHONE)), timeout=10).verdict
        quality = subprocess.run([str(BIN / "risklist-admin"), "quality", "--admin", server.admin_address,
                                  "--insecure", "--format", "json"],
                                 capture_output=True, text=True, timeout=60, check=False)
        table = subprocess.run([str(BIN / "risklist-admin"), "quality", "--admin", server.admin_address,
                                "--insecure"], capture_output=True, text=True, timeout=60, check=False)
    finally:
        assert server.terminate() == 0
    assert (verdict.action, verdict.reason_code) == (pb.ACTION_REVIEW, "REVIEW_LISTED")
    assert quality.returncode == 0, quality.stderr
    row = {r["source"]: r for r in json.loads(quality.stdout)}["bank-a"]
    assert (row["confirmed"], row["false_pos"], row["precision"], row["live"]) == (0, 0, None, 1)
    assert row["legacy_unverified"] == {"confirmed": 9, "false_pos": 0, "explained": 0, "unknown": 2}
    assert table.returncode == 0 and "unverified" in table.stdout, table.stdout
