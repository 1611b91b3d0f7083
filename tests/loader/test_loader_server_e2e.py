"""risklist-load --server against a real risklist-server subprocess: lookups see loads at once; sources are members."""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from loader_feeds import generated_rows, records, run_loader, write_csv
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.secret import NetworkSecret, write_secret
from tests.support.mtls import DevNetwork, dev_network
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


MEMBERS = '[partners.east-harbour-bank]\nroles = ["query", "contribute"]\n[partners.operator]\nroles = ["admin"]\n'


def _list_version(network: DevNetwork, admin_address: str) -> int:
    with network.channel(admin_address, "operator") as channel:
        info: pb.GetNetworkInfoResponse = pb_grpc.AdminStub(channel).GetNetworkInfo(pb.GetNetworkInfoRequest(),
                                                                                      timeout=10)
    return info.list_version


def _load_as(network: DevNetwork, partner: str, feed: Path, source: str, admin_address: str,
             secret_file: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_loader(feed.parent, feed, "--source", source, "--server", admin_address, "--secret-file", secret_file,
                      "--quiet", *extra, *network.client_flags(partner))


@pytest.mark.parametrize("mode", ["delta", "snapshot"])
def test_a_load_under_a_source_no_member_has_is_refused_and_applies_nothing(
    tmp_path: Path, secret_file: Path, mode: str
) -> None:
    """--source ghost-bank (no member's id, nothing declared): exit 1 with the server's PERMISSION_DENIED naming the
    source and what to do, said once that nothing was applied, though the loader had sent batches; the list
    version stays 0."""
    network = dev_network(tmp_path, MEMBERS)
    running = start_server(tmp_path / "db", secret_file, tls=network.server_tls)
    feed = write_csv(tmp_path / "feed.csv", generated_rows(40))
    try:
        result = _load_as(network, "operator", feed, "ghost-bank", running.admin_address, secret_file,
                          "--batch-size", "5", "--mode", mode)
        version = _list_version(network, running.admin_address)
    finally:
        assert running.terminate() == 0
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("risklist-load: error:")]
    assert errors == [
        f"risklist-load: error: the server at {running.admin_address} answered PERMISSION_DENIED: source "
        "'ghost-bank' is neither a member of this network nor an ingest source declared for partner 'operator' in "
        "the partners file: its rows would count as one more bank's. Load under the id of the member whose feed "
        "it is, or declare it: ingest_sources = [\"ghost-bank\"] in [partners.operator]; nothing was applied"
    ]
    assert version == 0


def test_members_and_the_loading_partners_declared_sources_are_loaded(tmp_path: Path, secret_file: Path) -> None:
    """A member's id loads; so does a source in the loading partner's ingest_sources, but not for another admin."""
    network = dev_network(tmp_path, MEMBERS + 'ingest_sources = ["legacy-feed"]\n'
                                              '[partners.other-operator]\nroles = ["admin"]\n')
    running = start_server(tmp_path / "db", secret_file, tls=network.server_tls)
    feed = write_csv(tmp_path / "feed.csv", generated_rows(5))
    try:
        member = _load_as(network, "operator", feed, "east-harbour-bank", running.admin_address, secret_file)
        declared = _load_as(network, "operator", feed, "legacy-feed", running.admin_address, secret_file)
        version = _list_version(network, running.admin_address)
        not_its_own = _load_as(network, "other-operator", feed, "legacy-feed", running.admin_address, secret_file)
        after = _list_version(network, running.admin_address)
    finally:
        assert running.terminate() == 0
    assert member.returncode == 0, member.stderr
    assert declared.returncode == 0, declared.stderr
    assert "added 5" in member.stdout and "added 5" in declared.stdout
    assert not_its_own.returncode == 1
    assert "source 'legacy-feed' is neither a member" in not_its_own.stderr
    assert "[partners.other-operator]" in not_its_own.stderr and after == version


def order_rows() -> list[dict[str, object]]:
    """Every kind of last word: add then remove, remove then add, low then critical, a remove of every category
    before and after adds, an identical row again, and adds already expired (one ending a live listing)."""
    phones = [f"+86138001380{n:02d}" for n in range(1, 9)]

    def add(phone: str, category: str, level: str, reported: str = "2026-03-01", expires: str = "2036-03-01",
            ) -> dict[str, object]:
        return {"action": "add", "entity_type": "phone", "identifier": phone, "category": category, "level": level,
                "reported_at": reported, "expires_at": expires}

    def remove(phone: str, category: str = "") -> dict[str, object]:
        return {"action": "remove", "entity_type": "phone", "identifier": phone, "category": category}

    p1, p2, p3, p4, p5, p6, p7, p8 = phones
    return [add(p1, "telecom_fraud", "low"), remove(p1, "telecom_fraud"), remove(p2, "telecom_fraud"),
            add(p2, "telecom_fraud", "high"), add(p3, "telecom_fraud", "low"), add(p3, "telecom_fraud", "critical"),
            remove(p4), add(p4, "money_mule", "high"), add(p4, "gambling", "low"), add(p5, "telecom_fraud", "high"),
            remove(p5), add(p6, "other", "medium"), add(p6, "other", "medium"),
            add(p7, "telecom_fraud", "high", "2020-01-01", "2021-01-01"), add(p8, "money_mule", "high"),
            add(p8, "money_mule", "high", "2020-01-01", "2021-01-01"), *generated_rows(5)]


@pytest.mark.parametrize("mode", ["delta", "snapshot"])
def test_a_feed_in_order_through_the_server_leaves_what_db_leaves_and_reloads_change_nothing(
    tmp_path: Path, secret_file: Path, secret: NetworkSecret, mode: str
) -> None:
    """Admin.Ingest, fed in batches of 2, lists what a --db load lists, with the same counts; a second load adds
    nothing, removes nothing and leaves the list version where it was."""
    prior = write_csv(tmp_path / "prior.csv", [dict(row, level="low") for row in order_rows()[8:16]])
    feed = write_csv(tmp_path / "feed.csv", order_rows())
    counted = ("accepted", "rejected", "repeated", "superseded", "expired", "added", "unchanged", "removed",
               "not_listed", "swept")
    reference = tmp_path / "reference"
    db_args = ("--source", "bank-a", "--db", reference, "--secret-file", secret_file, "--mode", mode)
    assert run_loader(tmp_path, prior, *db_args[:-2]).returncode == 0
    expected = summary(run_loader(tmp_path, feed, *db_args))
    running = start_server(tmp_path / "db", secret_file)
    try:
        args = ("--source", "bank-a", "--server", running.admin_address, "--insecure", "--secret-file", secret_file,
                "--batch-size", "2", "--mode", mode)
        assert run_loader(tmp_path, prior, *args[:-2]).returncode == 0
        first = summary(run_loader(tmp_path, feed, *args))
        again = summary(run_loader(tmp_path, feed, *args))
    finally:
        assert running.terminate() == 0
    assert {name: first[name] for name in counted} == {name: expected[name] for name in counted}
    assert first["expired"] == 2 and first["superseded"] == 5 and first["repeated"] == 1
    assert (again["added"], again["removed"], again["swept"]) == (0, 0, 0)
    assert again["list_version"] == first["list_version"]
    assert records(tmp_path / "db", secret) == records(reference, secret)
