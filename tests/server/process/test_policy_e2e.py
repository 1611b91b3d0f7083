"""risklist-server --policy over real grpc: verdicts carry action and reason code; the policy reloads live."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.digest import Digester
from risklist_kernel.enums import EntityType
from risklist_kernel.secret import NetworkSecret
from tests.support.running_server import BIN, ServerProcess, start_server
from tests.support.waiting import wait_until

TWO_BANKS = "+8613800138000"  # reported HIGH by two banks
ONE_BANK = "+8613900139000"  # reported HIGH by one bank
UNLISTED = "+8613700137000"

POLICY = """\
[[rule]]
action = "BLOCK"
reason_code = "BLOCK_TWO_BANKS"
min_sources = 2

[[rule]]
action = "REVIEW"
reason_code = "REVIEW_HIGH"
min_level = "high"

[default]
action = "ALLOW"
reason_code = "ALLOW_LOW"
"""


def _list(server: ServerProcess, secret: NetworkSecret, source: str, phone: str) -> None:
    digest = Digester(secret).digest(EntityType.PHONE, phone)
    requests = [
        pb.IngestRequest(start=pb.IngestStart(source=source, mode=pb.LOAD_MODE_DELTA,
                                              secret_fingerprint=secret.fingerprint)),
        pb.IngestRequest(batch=pb.IngestBatch(mutations=[pb.Mutation(
            action=pb.MUTATION_ACTION_ADD, type=pb.ENTITY_TYPE_PHONE, digest=digest,
            category=pb.CATEGORY_MONEY_MULE, level=pb.RISK_LEVEL_HIGH,
            reported_at=Timestamp(seconds=int(time.time()) - 3600), expires_at=Timestamp(seconds=4_000_000_000))])),
    ]
    with grpc.insecure_channel(server.admin_address) as channel:
        pb_grpc.AdminStub(channel).Ingest(iter(requests), timeout=10)


def _check(stub: pb_grpc.RiskListStub, phone: str) -> tuple[int, str]:
    verdict = _verdict(stub, phone)
    return verdict.action, verdict.reason_code


def _verdict(stub: pb_grpc.RiskListStub, phone: str) -> pb.Verdict:
    return stub.Check(pb.CheckRequest(subject=pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=phone)), timeout=5).verdict


def _until(probe: Callable[[], object], expected: object, within: float = 5) -> None:
    """Poll `probe` until it returns `expected`, failing after `within` seconds."""
    wait_until(lambda: probe() == expected, timeout=within, interval=0.05, message=f"still not {expected!r}")


def _list_both(server: ServerProcess, secret: NetworkSecret, stub: pb_grpc.RiskListStub) -> None:
    """TWO_BANKS from bank-a and bank-b, ONE_BANK from bank-a; return once the stub's worker sees them."""
    _list(server, secret, "bank-a", TWO_BANKS)
    _list(server, secret, "bank-b", TWO_BANKS)
    _list(server, secret, "bank-a", ONE_BANK)
    _until(lambda: _check(stub, ONE_BANK)[1], "REVIEW_HIGH")  # several workers: within the catch-up interval


def test_check_and_batch_check_carry_the_policy_decision(
    tmp_path: Path, secret_file: Path, secret: NetworkSecret
) -> None:
    """Check, BatchCheck (digests, raw values) and StreamCheck hits carry the first matching rule's decision and
    the version of the policy that made it (its file's digest, as `sha256sum` prints it)."""
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    server = start_server(tmp_path / "db", secret_file, "--policy", str(policy))
    try:
        with grpc.insecure_channel(server.address) as channel:
            stub = pb_grpc.RiskListStub(channel)
            _list_both(server, secret, stub)
            assert _check(stub, TWO_BANKS) == (pb.ACTION_BLOCK, "BLOCK_TWO_BANKS")
            assert _check(stub, ONE_BANK) == (pb.ACTION_REVIEW, "REVIEW_HIGH")
            assert _check(stub, UNLISTED) == (pb.ACTION_ALLOW, "NOT_LISTED")
            assert _verdict(stub, TWO_BANKS).policy_version == hashlib.sha256(POLICY.encode()).hexdigest()[:12]
            assert _verdict(stub, UNLISTED).policy_version == ""
            digester = Digester(secret)
            phones = [UNLISTED, TWO_BANKS, ONE_BANK]
            by_digest = stub.BatchCheck(pb.BatchCheckRequest(subjects=[
                pb.Subject(type=pb.ENTITY_TYPE_PHONE, digest=digester.digest(EntityType.PHONE, phone))
                for phone in phones
            ]), timeout=5)
            by_value = stub.BatchCheck(pb.BatchCheckRequest(subjects=[
                pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=phone) for phone in phones]), timeout=5)
            streamed = list(stub.StreamCheck(iter([pb.BatchCheckRequest(subjects=[
                pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=phone) for phone in phones])]), timeout=5))
            for response in (by_digest, by_value, *streamed):
                assert [(hit.index, hit.verdict.action, hit.verdict.reason_code) for hit in response.hits] == [
                    (1, pb.ACTION_BLOCK, "BLOCK_TWO_BANKS"), (2, pb.ACTION_REVIEW, "REVIEW_HIGH")]
                assert {hit.verdict.policy_version for hit in response.hits} == {
                    hashlib.sha256(POLICY.encode()).hexdigest()[:12]}
    finally:
        assert server.terminate() == 0


def test_every_worker_reloads_a_good_policy_and_keeps_it_over_a_broken_one(
    tmp_path: Path, secret_file: Path, secret: NetworkSecret
) -> None:
    """A changed file is served by every worker within seconds; a broken one is logged with its line and ignored."""
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    server = start_server(tmp_path / "db", secret_file, "--policy", str(policy), "--workers", "2")
    try:
        with grpc.insecure_channel(server.address) as channel:
            stub = pb_grpc.RiskListStub(channel)
            _list_both(server, secret, stub)
            assert _check(stub, TWO_BANKS) == (pb.ACTION_BLOCK, "BLOCK_TWO_BANKS")
            policy.write_text(POLICY.replace('"BLOCK"', '"REVIEW"').replace("BLOCK_TWO_BANKS", "REVIEW_TWO_BANKS"))
            _until(lambda: _check(stub, TWO_BANKS), (pb.ACTION_REVIEW, "REVIEW_TWO_BANKS"))
            for worker in ("reader-1", "reader-2"):
                server.wait_for_log(lambda e, w=worker: e.get("event") == "policy_loaded"
                                    and e.get("reload") is True and e.get("worker") == w, timeout=10)

            policy.write_text(POLICY.replace('min_sources = 2', 'min_sources = 1'))  # BLOCK on one bank's word
            for worker in ("reader-1", "reader-2"):
                rejected = server.wait_for_log(lambda e, w=worker: e.get("event") == "policy_rejected"
                                               and e.get("worker") == w, timeout=10)
                assert rejected["line"] == 2 and "allow_single_source" in str(rejected["reason"])
            assert _check(stub, TWO_BANKS) == (pb.ACTION_REVIEW, "REVIEW_TWO_BANKS")
            assert _check(stub, ONE_BANK) == (pb.ACTION_REVIEW, "REVIEW_HIGH")
    finally:
        assert server.terminate() == 0


def test_a_broken_policy_file_is_a_start_up_error(tmp_path: Path, secret_file: Path) -> None:
    """The server refuses to start on a broken policy: exit 1, the file, line and reason, no traceback."""
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY.replace('min_level = "high"', 'min_level = "hgh"'))
    result = subprocess.run(
        [str(BIN / "risklist-server"), "--db", str(tmp_path / "db"), "--secret-file", str(secret_file),
         "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--workers", "1", "--policy", str(policy),
         "--insecure-dev"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, env=dict(os.environ))
    assert result.returncode == 1
    assert f"policy file {policy}, line 9: rule 2: min_level: unknown level 'hgh'" in result.stderr
    assert "Traceback" not in result.stderr
