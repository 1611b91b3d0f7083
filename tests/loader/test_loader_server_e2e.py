"""risklist-load --server against a real risklist-server subprocess: lookups see loads at once."""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from loader_feeds import generated_rows, run_loader, write_csv
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.secret import NetworkSecret, write_secret
from tests.support.mtls import dev_network
from tests.support.running_server import ServerProcess, start_server

PHONE = "+8613800138000"


@pytest.fixture()
def server(tmp_path: Path, secret_file: Path) -> Iterator[ServerProcess]:
    running = start_server(tmp_path / "db", secret_file)
    yield running
    assert running.terminate() == 0


def check(server: ServerProcess, entity_type: int, value: str) -> pb.CheckResponse:
    with grpc.insecure_channel(server.address) as channel:
        request = pb.CheckRequest(subject=pb.Subject(type=entity_type, value=value))
        response: pb.CheckResponse = pb_grpc.RiskListStub(channel).Check(request, timeout=10)
        return response


def summary(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert "Traceback" not in result.stderr
    [done] = [json.loads(line) for line in result.stderr.splitlines() if '"event": "load_done"' in line]
    return done


def test_loads_through_the_server_are_seen_without_restart(
    tmp_path: Path, secret_file: Path, server: ServerProcess
) -> None:
    """Delta and snapshot loads streamed to Admin.Ingest change verdicts at once; re-runs are no-ops."""
    admin = server.admin_address
    phone_row = {"action": "add", "entity_type": "phone", "identifier": PHONE, "category": "telecom_fraud",
                 "level": "critical", "reported_at": "2026-03-01T08:00:00+08:00"}
    rows = generated_rows(30) + [phone_row]
    delta = write_csv(tmp_path / "delta.csv", rows)
    args = ("--source", "bank-a", "--server", admin, "--insecure", "--secret-file", secret_file, "--batch-size", "7")
    first = run_loader(tmp_path, delta, *args)
    assert first.returncode == 0, first.stderr
    assert summary(first)["added"] == 31
    verdict = check(server, pb.ENTITY_TYPE_PHONE, "138 0013 8000")
    assert verdict.verdict.listed and verdict.verdict.level == pb.RISK_LEVEL_CRITICAL
    assert verdict.list_version == summary(first)["list_version"]

    again = summary(run_loader(tmp_path, delta, *args))
    assert (again["added"], again["unchanged"]) == (0, 31)
    assert again["list_version"] == summary(first)["list_version"]

    snapshot = write_csv(tmp_path / "snapshot.csv", generated_rows(30))
    swept = run_loader(tmp_path, snapshot, *args, "--mode", "snapshot")
    assert swept.returncode == 0, swept.stderr
    assert summary(swept)["swept"] == 1
    assert not check(server, pb.ENTITY_TYPE_PHONE, PHONE).verdict.listed


def test_db_load_into_a_served_store_is_refused(tmp_path: Path, secret_file: Path, server: ServerProcess) -> None:
    """While the server holds the store, --db into it exits 1 and points at --server."""
    feed = write_csv(tmp_path / "feed.csv", generated_rows(3))
    result = run_loader(tmp_path, feed, "--source", "bank-a", "--db", tmp_path / "db", "--secret-file", secret_file)
    assert result.returncode == 1
    assert "held by another process" in result.stderr and "--server ADDR" in result.stderr


def test_load_under_another_secret_is_refused_before_anything_is_sent(tmp_path: Path, secret: NetworkSecret) -> None:
    """Over mutual TLS, a loader holding another network secret stops at the server's fingerprint: no Ingest call."""
    network = dev_network(tmp_path, '[partners.operator]\nroles = ["admin"]\n')
    server_secret = tmp_path / "server.secret"
    write_secret(server_secret, secret)
    running = start_server(tmp_path / "db", server_secret, "--rpc-log", "all", tls=network.server_tls)
    other = tmp_path / "other.secret"
    write_secret(other, NetworkSecret(secrets.token_bytes(32)))
    feed = write_csv(tmp_path / "feed.csv", generated_rows(3))
    try:
        result = run_loader(tmp_path, feed, "--source", "bank-a", "--server", running.admin_address,
                            "--secret-file", other, *network.client_flags("operator"))
    finally:
        assert running.terminate() == 0
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"the secret file {other} holds another network secret" in result.stderr
    assert secret.fingerprint in result.stderr and "Nothing was sent" in result.stderr
    methods = [line["method"] for line in running.log_lines if line["event"] == "rpc"]
    assert "GetNetworkInfo" in methods and "Ingest" not in methods
