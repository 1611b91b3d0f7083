"""The partner network end to end over real mutual TLS with two workers: contributions, outcomes, expiry, audit."""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.secret import NetworkSecret, write_secret
from tests.support.audit_cli import audit_jsonl
from tests.support.mtls import DevNetwork, dev_network
from tests.support.policies import TRUSTED_SOURCE_POLICY
from tests.support.running_server import BIN, ServerProcess, start_server
from tests.support.waiting import wait_until

PARTNERS = """
[partners.bank-a]
roles = ["query", "contribute"]

[partners.bank-b]
roles = ["query", "contribute"]

[partners.operator]
roles = ["admin"]
"""
CONFIG = """
expiry_sweep_interval_seconds = 0.2
precision_min_outcomes = 2
"""

T = TypeVar("T")


@dataclass
class Network:
    dev: DevNetwork
    server: ServerProcess
    audit_dir: Path
    secret: NetworkSecret

    def stub(self, partner: str) -> pb_grpc.RiskListStub:
        return pb_grpc.RiskListStub(self.dev.channel(self.server.address, partner))


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    directory = tmp_path_factory.mktemp("partner-network")
    secret = NetworkSecret(secrets.token_bytes(32))
    secret_file = directory / "network.secret"
    write_secret(secret_file, secret)
    (directory / "config.toml").write_text(CONFIG)
    (directory / "policy.toml").write_text(TRUSTED_SOURCE_POLICY)
    dev = dev_network(directory, PARTNERS)
    server = start_server(directory / "db", secret_file, "--workers", "2", "--config", str(directory / "config.toml"),
                          "--policy", str(directory / "policy.toml"), tls=dev.server_tls)
    yield Network(dev, server, directory / "db-audit", secret)
    assert server.terminate() == 0


def _phone(number: int) -> pb.Subject:
    return pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=f"+86138{number:08d}")


def _report(stub: pb_grpc.RiskListStub, subject: pb.Subject, *, expires_in: int | None = None) -> pb.ReportResponse:
    report = pb.Report(subject=subject, category=pb.CATEGORY_MONEY_MULE, level=pb.RISK_LEVEL_HIGH, reference="case-1")
    if expires_in is not None:
        report.expires_at.CopyFrom(Timestamp(seconds=int(time.time()) + expires_in))
    response: pb.ReportResponse = stub.Report(pb.ReportRequest(reports=[report]), timeout=10)
    return response


def _until(condition: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll `condition` until it returns something (every 50 ms), or fail saying `what` never happened."""
    return wait_until(condition, timeout=timeout, interval=0.05, message=f"{what} did not happen")


def _visible(stub: pb_grpc.RiskListStub, subject: pb.Subject, version: int) -> pb.CheckResponse:
    """The first answer for `subject` that reflects list version `version` (another worker catches up)."""
    def answer() -> pb.CheckResponse | None:
        response: pb.CheckResponse = stub.Check(pb.CheckRequest(subject=subject), timeout=10)
        return response if response.list_version >= version else None
    return _until(answer, 5, "the write reaching the other worker")


def test_a_partner_cannot_revoke_another_partners_entry(network: Network) -> None:
    """bank-b's revoke of bank-a's entry answers OK as for a subject nobody lists (not_listed, same list version),
    is audited under bank-b, and changes nothing."""
    subject = _phone(1)
    version = _report(network.stub("bank-a"), subject).list_version
    bank_b = network.stub("bank-b")
    _visible(bank_b, subject, version)
    revoked: pb.RevokeResponse = bank_b.Revoke(pb.RevokeRequest(subjects=[subject]), timeout=10)
    assert (revoked.removed, revoked.not_listed, revoked.list_version) == (0, 1, version)
    entry = network.stub("bank-a").GetEntry(pb.GetEntryRequest(subject=subject), timeout=10)
    assert entry.verdict.listed and [(c.own, c.reference) for c in entry.contributions] == [(True, "case-1")]
    seen_by_b = bank_b.GetEntry(pb.GetEntryRequest(subject=subject), timeout=10)
    assert [(c.source, c.own, c.reference) for c in seen_by_b.contributions] == [("", False, "")]
    revokes = [r for r in audit_jsonl(network.audit_dir, "--partner", "bank-b") if r["method"] == "Revoke"]
    assert [r["status"] for r in revokes] == ["OK"]


def test_outcomes_grade_the_source_and_the_policy_follows(network: Network) -> None:
    """Confirmed outcomes from bank-b make bank-a's precision known and high, and its single reports then BLOCK."""
    bank_a, bank_b = network.stub("bank-a"), network.stub("bank-b")
    subjects = [_phone(100 + n) for n in range(3)]
    version = max(_report(bank_a, subject).list_version for subject in subjects)
    answers = [_visible(bank_b, subject, version) for subject in subjects]
    assert {(a.verdict.action, a.verdict.reason_code) for a in answers} == {(pb.ACTION_REVIEW, "REVIEW_LISTED")}
    for answer, subject in zip(answers[:2], subjects[:2], strict=True):
        outcome = bank_b.ReportOutcome(pb.ReportOutcomeRequest(
            hit_request_id=answer.request_id, subject=subject, outcome=pb.OUTCOME_CONFIRMED_FRAUD,
            hit_token=answer.outcome_token), timeout=10)
        assert outcome.sources_credited == 1
    quality = subprocess.run(
        [str(BIN / "risklist-admin"), "quality", "--admin", network.server.admin_address,
         *network.dev.client_flags("operator"), "--format", "json"],
        capture_output=True, text=True, timeout=60, check=False)
    assert quality.returncode == 0, quality.stderr
    row = {r["source"]: r for r in json.loads(quality.stdout)}["bank-a"]
    assert (row["confirmed"], row["false_pos"], row["precision"]) == (2, 0, 1.0) and row["live"] >= 3
    # Every worker re-reads the tallies at most every 5 s; then bank-a's word alone blocks, on any
    # connection (each new channel is a new connection, which SO_REUSEPORT gives to either worker).
    def blocked_everywhere() -> bool:
        for _ in range(6):
            with network.dev.channel(network.server.address, "bank-b") as channel:
                verdict = pb_grpc.RiskListStub(channel).Check(pb.CheckRequest(subject=subjects[2]), timeout=10).verdict
            if verdict.action != pb.ACTION_BLOCK or verdict.reason_code != "BLOCK_TRUSTED_SOURCE":
                return False
        return True

    assert _until(blocked_everywhere, 15, "the policy seeing bank-a's precision on every worker")
    outcomes = [r for r in audit_jsonl(network.audit_dir, "--partner", "bank-b") if r["method"] == "ReportOutcome"]
    assert len(outcomes) == 2 and {r["status"] for r in outcomes} == {"OK"}


def test_an_expired_entry_leaves_verdicts_at_once_and_the_filter_after_the_sweep(network: Network) -> None:
    """At expiry the verdict says not listed; the sweep's removal then shows in GetFilterUpdates."""
    bank_a = network.stub("bank-a")
    subject = _phone(200)
    before = _report(bank_a, subject, expires_in=2).list_version
    assert _until(lambda: bank_a.Check(pb.CheckRequest(subject=subject), timeout=10).verdict.listed, 5,
                  "the report becoming visible")

    def removed_since_report() -> int | None:
        updates = list(bank_a.GetFilterUpdates(pb.GetFilterUpdatesRequest(since_version=before), timeout=10))
        return sum(update.removed_count for update in updates) or sum(update.reset for update in updates) or None

    _until(lambda: not bank_a.Check(pb.CheckRequest(subject=subject), timeout=10).verdict.listed, 10,
           "the verdict dropping the expired contribution")
    assert _until(removed_since_report, 10, "the sweep's removal reaching the filter updates") >= 1


def test_the_sdk_speaks_mutual_tls_as_a_member(network: Network) -> None:
    """RiskListClient with a member's certificate loads the filter and answers listed and not-listed subjects."""
    from risklist_client import CheckFailed, RiskListClient

    subject = _phone(300)
    version = _report(network.stub("bank-a"), subject).list_version
    files = network.dev.client("bank-b")
    credentials = grpc.ssl_channel_credentials(root_certificates=files.ca, private_key=files.key,
                                               certificate_chain=files.cert)
    with RiskListClient(network.server.address, credentials, secret=network.secret, update_interval=0.2) as client:
        assert client.wait_for_filter(10)
        answer = _until(lambda: (found := client.check("phone", subject.value)).list_version >= version and found,
                        5, "the report reaching the SDK's worker")
        assert answer.listed and answer.answered_by == "server"
        assert not client.check("phone", "+8613900000001").listed
    operator = network.dev.client("operator")
    not_a_querier = grpc.ssl_channel_credentials(root_certificates=operator.ca, private_key=operator.key,
                                                 certificate_chain=operator.cert)
    with RiskListClient(network.server.address, not_a_querier, secret=network.secret, prescreen=False) as client, \
            pytest.raises(CheckFailed) as refused:
        client.check("phone", subject.value)
    assert refused.value.code == "PERMISSION_DENIED"


def test_calls_refused_at_the_gate_are_audited_too(network: Network) -> None:
    """A member calling a method its roles do not allow is in the audit trail, under its id, with the refusal."""
    with network.dev.channel(network.server.address, "operator") as channel, pytest.raises(grpc.RpcError) as refused:
        pb_grpc.RiskListStub(channel).Check(pb.CheckRequest(subject=_phone(400)), timeout=10)
    assert refused.value.code() is grpc.StatusCode.PERMISSION_DENIED

    def refusal() -> dict[str, object] | None:
        records = audit_jsonl(network.audit_dir, "--partner", "operator")
        return next((r for r in records if r["method"] == "Check" and r["status"] == "PERMISSION_DENIED"), None)

    # Each worker commits its trail every 10 ms; the record is there within moments.
    record = _until(refusal, 5, "the refused Check appearing in the audit trail")
    assert record["keys"] == [] and len(str(record["request_id"])) == 24
