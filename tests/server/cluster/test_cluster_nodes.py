"""risklist-server --cluster: real server processes (one worker, and a writer with two readers) on three real
nats-servers. A write on one node is answered once durable in the log and applied there, and reaches the other;
without a quorum writes are UNAVAILABLE within the caller's deadline while reads go on, health turns NOT_SERVING
past --max-lag and back once the log returns; what a cluster node cannot take yet is refused before the log."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import nats
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.secret import NetworkSecret, write_secret
from risklist_server.cluster.write_log import STREAM
from risklist_server.store.risk_store import init_store
from tests.support.admin_ingest import PHONE, ingest_phone
from tests.support.cluster_nodes import cluster_flags, health, phone, unlisted
from tests.support.list_ids import list_ids
from tests.support.running_server import BIN, ServerProcess, start_server
from tests.support.waiting import wait_until
from tools.local_nats import NatsCluster

MAX_LAG_S = 1.0
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
FEED_HEADER = "action,entity_type,identifier,category,level,reported_at,expires_at,reference"


@pytest.fixture(scope="module")
def secret() -> NetworkSecret:
    """One network for the module: its tests share one cluster (each uses subjects of its own)."""
    return NetworkSecret(secrets.token_bytes(32))


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory: pytest.TempPathFactory, secret: NetworkSecret) -> Path:
    return write_secret(tmp_path_factory.mktemp("secret") / "network.secret", secret)


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    """Three nats-servers for the tests that leave them running (see `cluster` for the one that stops them)."""
    started = NatsCluster.create(tmp_path_factory.mktemp("nats"))
    try:
        started.start()
        yield started
    finally:
        started.stop()


def _start_nodes(cluster: NatsCluster, directory: Path, secret_file: Path) -> list[ServerProcess]:
    """Node a: one worker; node b: a writer and two readers."""
    return [start_server(directory / "a", secret_file, *cluster_flags(cluster, "a", max_lag_s=MAX_LAG_S)),
            start_server(directory / "b", secret_file, "--workers", "2",
                         *cluster_flags(cluster, "b", max_lag_s=MAX_LAG_S))]


@pytest.fixture(scope="module")
def nodes(shared_cluster: NatsCluster, tmp_path_factory: pytest.TempPathFactory,
          secret_file: Path) -> Iterator[list[ServerProcess]]:
    """Two nodes the module's tests share (starting a cluster costs seconds)."""
    started = _start_nodes(shared_cluster, tmp_path_factory.mktemp("nodes"), secret_file)
    yield started
    for node in started:
        node.terminate()


@pytest.fixture()
def own_nodes(cluster: NatsCluster, tmp_path: Path, secret_file: Path) -> Iterator[list[ServerProcess]]:
    """Two nodes on a cluster of their own, for a test that stops its NATS servers."""
    started = _start_nodes(cluster, tmp_path, secret_file)
    yield started
    for node in started:
        node.terminate()


def _stub(address: str) -> pb_grpc.RiskListStub:
    return pb_grpc.RiskListStub(grpc.insecure_channel(address))


def _report(number: int) -> pb.ReportRequest:
    return pb.ReportRequest(reports=[pb.Report(subject=phone(number), category=pb.CATEGORY_MONEY_MULE,
                                               level=pb.RISK_LEVEL_HIGH, reference=f"case-{number}")])


def _listed(stub: pb_grpc.RiskListStub, number: int) -> bool:
    return bool(stub.Check(pb.CheckRequest(subject=phone(number)), timeout=5).verdict.listed)


def test_a_write_on_one_node_is_read_there_at_once_and_reaches_every_other_node(nodes: list[ServerProcess]) -> None:
    a, b = (_stub(node.address) for node in nodes)
    wait_until(lambda: all(health(node.address) == SERVING for node in nodes), timeout=30,
               message="the nodes did not report SERVING once caught up with the log")
    assert a.Report(_report(1), timeout=10).added == 1
    assert _listed(a, 1)  # acknowledged means applied on the answering node
    wait_until(lambda: _listed(b, 1), timeout=10, message="node b never applied node a's Report")

    assert b.Report(_report(2), timeout=10).added == 1  # through b's reader, its writer and the log
    assert _listed(b, 2)
    wait_until(lambda: _listed(a, 2), timeout=10, message="node a never applied node b's Report")
    assert b.Revoke(pb.RevokeRequest(subjects=[phone(1)]), timeout=10).removed == 1
    wait_until(lambda: not _listed(a, 1), timeout=10, message="node a never applied node b's Revoke")


def test_a_partners_filter_from_one_node_is_updated_by_another_without_a_reset(nodes: list[ServerProcess]) -> None:
    """Both nodes name one list and count its versions alike: a filter downloaded from node a at version V follows
    node b's updates from V (no reset, so an SDK moving between nodes keeps its filter)."""
    a, b = (_stub(node.address) for node in nodes)
    wait_until(lambda: all(health(node.address) == SERVING for node in nodes), timeout=30,
               message="the nodes did not report SERVING once caught up with the log")
    (list_a,), (list_b,) = (list_ids(node.address, node.admin_address) for node in nodes)
    assert list_a == list_b
    header = next(iter(a.GetFilter(pb.GetFilterRequest(), timeout=10))).header
    reported = b.Report(_report(31), timeout=10).list_version
    wait_until(lambda: _version(a) == reported, timeout=10, message="node a never applied node b's Report")
    for follower in (a, b):
        updates = list(follower.GetFilterUpdates(pb.GetFilterUpdatesRequest(since_version=header.version), timeout=10))
        assert not any(update.reset for update in updates)
        assert {update.list_id for update in updates} == {header.list_id}
        assert updates[-1].version == reported
        assert sum(len(update.added_keys) for update in updates) == 17  # the one key b's Report listed


def test_a_filter_ahead_of_a_node_is_kept_not_reset(nodes: list[ServerProcess]) -> None:
    """A partner's filter from a node further along than this one (a failover to a lagging node): the node answers
    one update at the filter's own version that changes nothing, at once, never a reset (its versions are the
    log's: it will reach that version with the same entries)."""
    node = _stub(nodes[0].address)
    ahead = _version(node) + 1_000_000
    updates = list(node.GetFilterUpdates(pb.GetFilterUpdatesRequest(since_version=ahead), timeout=1.5))
    assert [(update.version, update.reset, update.added_keys, update.removed_count) for update in updates] == [
        (ahead, False, b"", 0)]


def test_a_store_with_versions_of_its_own_is_refused_as_a_node(nodes: list[ServerProcess], shared_cluster: NatsCluster,
                                                                tmp_path: Path, secret_file: Path) -> None:
    """A store loaded alone holds versions no log entry made: joining would make its list differ from every other
    node's, so the node refuses to start and says how to build a node's store."""
    feed = _feed(tmp_path / "alone.csv", range(5))
    subprocess.run([str(BIN / "risklist-load"), str(feed), "--source", "bank-a", "--db", str(tmp_path / "alone"),
                    "--secret-file", str(secret_file), "--quiet"], check=True, timeout=120)
    error = _server_error(*cluster_flags(shared_cluster, "c", max_lag_s=MAX_LAG_S), secret_file=secret_file,
                          db=tmp_path / "alone")
    assert "already holds list version" in error and "risklist-load --server" in error


def test_cut_off_from_the_log_writes_are_unavailable_in_time_reads_go_on_and_health_follows_the_log(
        cluster: NatsCluster, own_nodes: list[ServerProcess]) -> None:
    """Every NATS server gone: a write is UNAVAILABLE within its deadline, reads are answered from each node's
    store, every port turns NOT_SERVING past --max-lag, and all comes back once the servers do."""
    a = _stub(own_nodes[0].address)
    wait_until(lambda: all(health(node.address) == SERVING for node in own_nodes), timeout=30,
               message="the own_nodes did not report SERVING once caught up with the log")
    assert a.Report(_report(1), timeout=10).added == 1
    for server in ("n1", "n2", "n3"):
        cluster.kill(server)

    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as refused:
        a.Report(_report(2), timeout=3)
    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE, refused.value.details()
    assert time.monotonic() - started < 3
    assert _listed(a, 1) and not _listed(a, 2)  # reads go on, from the node's own store
    for node in own_nodes:  # the writer's own health and, on node b, its reader's
        wait_until(lambda node=node: health(node.address) == NOT_SERVING, timeout=MAX_LAG_S + 10,
                   message=f"{node.address} kept SERVING past --max-lag without the log")
    assert health(own_nodes[1].admin_address) == NOT_SERVING

    cluster.start()
    for node in own_nodes:
        wait_until(lambda node=node: health(node.address) == SERVING, timeout=60,
                   message=f"{node.address} did not serve again once the log returned")
    assert a.Report(_report(2), timeout=10).added == 1
    wait_until(lambda: _listed(_stub(own_nodes[1].address), 2), timeout=10, message="node b never applied it")


def test_an_outcome_for_one_nodes_hit_is_proven_and_recorded_on_every_node(nodes: list[ServerProcess],
                                                                            secret: NetworkSecret) -> None:
    """Every node adopts the cluster's outcome key: a hit token node a made proves an outcome sent to node b (its
    log entry is decided the same on both nodes), and a forged token is refused without stopping either."""
    ingest_phone(nodes[0].admin_address, secret)  # listed by source bank-a, through the log
    a, b = _stub(nodes[0].address), _stub(nodes[1].address)
    subject = pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=PHONE)
    wait_until(lambda: b.Check(pb.CheckRequest(subject=subject), timeout=5).verdict.listed, timeout=10,
               message="node b never applied the load")
    hit = a.Check(pb.CheckRequest(subject=subject), timeout=5)
    assert hit.verdict.listed and hit.outcome_token
    outcome = pb.ReportOutcomeRequest(hit_request_id=hit.request_id, subject=subject,
                                      outcome=pb.OUTCOME_CONFIRMED_FRAUD, hit_token=hit.outcome_token)
    assert b.ReportOutcome(outcome, timeout=10).sources_credited == 1
    forged = pb.ReportOutcomeRequest(hit_request_id=hit.request_id, subject=subject,
                                     outcome=pb.OUTCOME_CONFIRMED_FRAUD, hit_token=bytes(len(hit.outcome_token)))
    with pytest.raises(grpc.RpcError) as refused:
        a.ReportOutcome(forged, timeout=10)
    assert refused.value.code() is grpc.StatusCode.FAILED_PRECONDITION, refused.value.details()
    # Both nodes go on applying the log: a Report after the refusal is on both.
    assert b.Report(_report(3), timeout=10).added == 1
    wait_until(lambda: _listed(a, 3), timeout=10, message="node a stopped applying the log")


def _feed(path: Path, numbers: range) -> Path:
    """A feed listing phone(number) for each number, reported today and expiring in a year (no fixed dates)."""
    today = datetime.now(UTC).date()
    rows = [f"add,phone,{phone(number).value},money_mule,high,{today},{today + timedelta(days=365)},"
            for number in numbers]
    path.write_text("\n".join([FEED_HEADER, *rows]) + "\n")
    return path


def _load(feed: Path, admin_address: str, secret_file: Path, mode: str) -> str:
    result = subprocess.run([str(BIN / "risklist-load"), "--source", "bank-a", "--mode", mode, "--server",
                             admin_address, "--insecure", "--secret-file", str(secret_file), "--batch-size", "300",
                             "--log-format", "json", str(feed)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stderr


def test_a_load_through_any_node_reaches_every_node_and_a_snapshot_sweeps_on_every_node(
        nodes: list[ServerProcess], tmp_path: Path, secret_file: Path) -> None:
    """risklist-load --server against either node's admin address goes through the log: its batches are on the
    answering node once the load returns, on the other moments later, and a snapshot's sweep happens on both."""
    first, second = list(range(10001, 12001)), list(range(11001, 12501))
    _load(_feed(tmp_path / "first.csv", range(10001, 12001)), nodes[0].admin_address, secret_file, "delta")
    assert unlisted(nodes[0].address, first) == []  # applied on the answering node when acknowledged
    wait_until(lambda: not unlisted(nodes[1].address, first), timeout=30, message="node b lacks node a's load")

    _load(_feed(tmp_path / "second.csv", range(11001, 12501)), nodes[1].admin_address, secret_file, "snapshot")
    for node in nodes:
        wait_until(lambda node=node: not unlisted(node.address, second), timeout=30,
                   message=f"{node.address} lacks the snapshot's rows")
        wait_until(lambda node=node: len(unlisted(node.address, first[:1000])) == 1000, timeout=30,
                   message=f"{node.address} kept rows the snapshot swept")


def _server_error(*arguments: str, secret_file: Path, db: Path) -> str:
    result = subprocess.run([str(BIN / "risklist-server"), "--db", str(db), "--secret-file", str(secret_file),
                             "--insecure-dev", "--workers", "1", "--listen", "127.0.0.1:0", "--admin-listen",
                             "127.0.0.1:0", *arguments], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    return result.stderr


@pytest.mark.parametrize(("flags", "message"), [
    (("--cluster", "nats://127.0.0.1:4222"), "--cluster needs --node-id"),
    (("--node-id", "a"), "--node-id is for a cluster node"),
    (("--cluster-nkey", "node.nk", "--cluster-ca", "ca.pem"), "--cluster-ca, --cluster-nkey are for a cluster node"),
    (("--cluster", "nats://127.0.0.1:4222", "--node-id", "a", "--cluster-ca", "/absent/ca.pem"),
     "--cluster-ca /absent/ca.pem: cannot read it"),
    (("--cluster", "127.0.0.1:4222", "--node-id", "a"), "is not a NATS address: write nats://HOST:PORT"),
    (("--cluster", "nats://127.0.0.1:4222", "--node-id", "a b"), "--node-id 'a b': use 1-63 letters"),
    (("--cluster", "nats://127.0.0.1:4222", "--node-id", "a", "--log-max-bytes", "lots"), "--log-max-bytes 'lots'"),
    (("--cluster", "nats://127.0.0.1:4222", "--node-id", "a", "--checkpoint-interval", "-1"),
     "--checkpoint-interval must be 0 (never publish) or more seconds"),
    (("--cluster", "nats://127.0.0.1:4222", "--node-id", "a", "--policy", "p.toml"),
     "--policy is for a node alone: a cluster's nodes serve the policy pushed to the cluster with risklist-admin "
     "policy push"),
])
def test_bad_cluster_flags_are_one_clear_error(flags: tuple[str, ...], message: str, tmp_path: Path,
                                               secret_file: Path) -> None:
    assert message in _server_error(*flags, secret_file=secret_file, db=tmp_path / "absent")


def test_a_node_with_another_networks_secret_is_refused_by_the_log(
        nodes: list[ServerProcess], shared_cluster: NatsCluster, tmp_path: Path) -> None:
    """The log names the network (its secret's fingerprint): a node of another never applies or adds to it."""
    other = NetworkSecret.demo()
    other_file = write_secret(tmp_path / "other.secret", other)
    init_store(tmp_path / "other", other.fingerprint)
    error = _server_error(*cluster_flags(shared_cluster, "c", max_lag_s=MAX_LAG_S), secret_file=other_file,
                          db=tmp_path / "other")
    assert "holds the writes of another network" in error and other.fingerprint in error


def _version(stub: pb_grpc.RiskListStub) -> int:
    return int(stub.Check(pb.CheckRequest(subject=phone(0)), timeout=5).list_version)


def _log_length(shared_cluster: NatsCluster) -> int:
    async def last() -> int:
        client = await nats.connect(servers=shared_cluster.urls)
        try:
            return int((await client.jetstream().stream_info(STREAM)).state.last_seq)
        finally:
            await client.close()

    return asyncio.run(last())


def test_the_expiry_sweep_is_driven_by_one_node_and_applied_by_every_node(nodes: list[ServerProcess],
                                                                          shared_cluster: NatsCluster) -> None:
    """A contribution that expires is purged through the log: one entry, logged by the one node holding the
    sweep's lease, applied by both nodes at the same place among the writes (their list versions agree)."""
    a, b = (_stub(node.address) for node in nodes)
    expires = Timestamp(seconds=int(time.time()) + 3)
    report = pb.ReportRequest(reports=[pb.Report(subject=phone(9), category=pb.CATEGORY_MONEY_MULE,
                                                 level=pb.RISK_LEVEL_HIGH, expires_at=expires)])
    reported = a.Report(report, timeout=10).list_version
    wait_until(lambda: _version(b) == reported, timeout=10, message="node b never applied the Report")
    before = _log_length(shared_cluster)
    wait_until(lambda: _version(a) > reported and _version(b) > reported, timeout=30,
               message="the expired contribution was never purged")
    assert _version(a) == _version(b) == reported + 1
    assert _log_length(shared_cluster) == before + 1  # one purge entry for both nodes
    holders = [node for node in nodes if any(line.get("event") == "expiry_lease_taken" for line in node.log_lines)]
    purgers = [node for node in nodes if any(line.get("event") == "expiry_purged" for line in node.log_lines)]
    assert len(holders) == 1 and purgers == holders


def _faketime_preload() -> str:
    """The library the `faketime` command preloads (Debian's faketime package, installed by `make test`)."""
    return subprocess.run(["faketime", "-f", "+0", "sh", "-c", 'echo "$LD_PRELOAD"'], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_a_node_whose_clock_is_two_hours_ahead_neither_serves_nor_takes_writes(
    nodes: list[ServerProcess], shared_cluster: NatsCluster, tmp_path: Path, secret_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A node's clock decides what has expired and the dates of the writes it takes, on every node: a node whose
    clock is off from the NATS servers' reports NOT_SERVING, logs why, and refuses writes (UNAVAILABLE)."""
    with monkeypatch.context() as shifted:  # only this node's processes run two hours ahead (libfaketime)
        shifted.setenv("LD_PRELOAD", _faketime_preload())
        shifted.setenv("FAKETIME", "+2h")
        shifted.setenv("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        ahead = start_server(tmp_path / "c", secret_file, *cluster_flags(shared_cluster, "c", max_lag_s=MAX_LAG_S))
    try:
        wait_until(lambda: all(health(node.address) == SERVING for node in nodes), timeout=30,
                   message="the nodes did not report SERVING once caught up with the log")
        line = ahead.wait_for_log(lambda entry: entry.get("event") == "clock_off")
        assert 7100 < float(line["offset_s"]) < 7300
        assert health(ahead.address) == NOT_SERVING
        with pytest.raises(grpc.RpcError) as refused:
            _stub(ahead.address).Report(_report(41), timeout=10)
        assert refused.value.code() is grpc.StatusCode.UNAVAILABLE and "clock" in refused.value.details()
        assert not _listed(_stub(nodes[0].address), 41)
    finally:
        ahead.terminate()
