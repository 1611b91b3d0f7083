"""risklist-server --cluster: real server processes (one worker, and a writer with two readers) on three real
nats-servers. A write on one node is answered once durable in the log and applied there, and reaches the other;
without a quorum writes are UNAVAILABLE within the caller's deadline while reads go on, health turns NOT_SERVING
past --max-lag and back once the log returns; what a cluster node cannot take yet is refused before the log."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_kernel.secret import NetworkSecret, write_secret
from risklist_server.store.risk_store import init_store
from tests.support.nats_cluster import NatsCluster
from tests.support.running_server import BIN, ServerProcess, start_server
from tests.support.waiting import wait_until

MAX_LAG_S = 1.0
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def _cluster_flags(cluster: NatsCluster, node_id: str) -> tuple[str, ...]:
    return ("--cluster", ",".join(cluster.urls), "--node-id", node_id, "--max-lag", str(MAX_LAG_S),
            "--log-max-bytes", "64M")


@pytest.fixture()
def nodes(cluster: NatsCluster, tmp_path: Path, secret_file: Path) -> Iterator[list[ServerProcess]]:
    """Node a: one worker; node b: a writer and two readers."""
    started = [start_server(tmp_path / "a", secret_file, *_cluster_flags(cluster, "a")),
               start_server(tmp_path / "b", secret_file, "--workers", "2", *_cluster_flags(cluster, "b"))]
    yield started
    for node in started:
        node.terminate()


def _stub(address: str) -> pb_grpc.RiskListStub:
    return pb_grpc.RiskListStub(grpc.insecure_channel(address))


def _health(address: str) -> int:
    stub = health_pb2_grpc.HealthStub(grpc.insecure_channel(address))
    return int(stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5).status)


def _report(number: int) -> pb.ReportRequest:
    return pb.ReportRequest(reports=[pb.Report(subject=_phone(number), category=pb.CATEGORY_MONEY_MULE,
                                               level=pb.RISK_LEVEL_HIGH, reference=f"case-{number}")])


def _phone(number: int) -> pb.Subject:
    return pb.Subject(type=pb.ENTITY_TYPE_PHONE, value=f"+86 139 {number:04d} {number:04d}")


def _listed(stub: pb_grpc.RiskListStub, number: int) -> bool:
    return bool(stub.Check(pb.CheckRequest(subject=_phone(number)), timeout=5).verdict.listed)


def test_a_write_on_one_node_is_read_there_at_once_and_reaches_every_other_node(nodes: list[ServerProcess]) -> None:
    a, b = (_stub(node.address) for node in nodes)
    wait_until(lambda: all(_health(node.address) == SERVING for node in nodes), timeout=30,
               message="the nodes did not report SERVING once caught up with the log")
    assert a.Report(_report(1), timeout=10).added == 1
    assert _listed(a, 1)  # acknowledged means applied on the answering node
    wait_until(lambda: _listed(b, 1), timeout=10, message="node b never applied node a's Report")

    assert b.Report(_report(2), timeout=10).added == 1  # through b's reader, its writer and the log
    assert _listed(b, 2)
    wait_until(lambda: _listed(a, 2), timeout=10, message="node a never applied node b's Report")
    assert b.Revoke(pb.RevokeRequest(subjects=[_phone(1)]), timeout=10).removed == 1
    wait_until(lambda: not _listed(a, 1), timeout=10, message="node a never applied node b's Revoke")


def test_without_a_quorum_writes_are_unavailable_in_time_reads_go_on_and_health_follows_the_log(
        cluster: NatsCluster, nodes: list[ServerProcess]) -> None:
    a = _stub(nodes[0].address)
    wait_until(lambda: all(_health(node.address) == SERVING for node in nodes), timeout=30,
               message="the nodes did not report SERVING once caught up with the log")
    assert a.Report(_report(1), timeout=10).added == 1
    cluster.kill("n1")
    cluster.kill("n2")

    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as refused:
        a.Report(_report(2), timeout=3)
    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE, refused.value.details()
    assert time.monotonic() - started < 3
    assert _listed(a, 1) and not _listed(a, 2)  # reads go on, from the node's own store
    for node in nodes:  # the writer's own health and, on node b, its reader's
        wait_until(lambda node=node: _health(node.address) == NOT_SERVING, timeout=MAX_LAG_S + 10,
                   message=f"{node.address} kept SERVING past --max-lag without the log")
    assert _health(nodes[1].admin_address) == NOT_SERVING

    cluster.start()
    for node in nodes:
        wait_until(lambda node=node: _health(node.address) == SERVING, timeout=60,
                   message=f"{node.address} did not serve again once the log returned")
    assert a.Report(_report(2), timeout=10).added == 1
    wait_until(lambda: _listed(_stub(nodes[1].address), 2), timeout=10, message="node b never applied it")


def test_what_a_cluster_node_cannot_take_yet_is_refused_before_the_log(nodes: list[ServerProcess],
                                                                       cluster: NatsCluster) -> None:
    a = _stub(nodes[0].address)
    with pytest.raises(grpc.RpcError) as refused:
        a.ReportOutcome(pb.ReportOutcomeRequest(), timeout=10)
    assert refused.value.code() is grpc.StatusCode.UNIMPLEMENTED
    assert "not served by a cluster node" in str(refused.value.details())
    admin = pb_grpc.AdminStub(grpc.insecure_channel(nodes[0].admin_address))
    with pytest.raises(grpc.RpcError) as refused:
        admin.Ingest(iter([pb.IngestRequest()]), timeout=10)
    assert refused.value.code() is grpc.StatusCode.UNIMPLEMENTED
    # Neither reached the log: a Report after them is the stream's first entry, applied on both nodes.
    assert a.Report(_report(3), timeout=10).added == 1
    wait_until(lambda: _listed(_stub(nodes[1].address), 3), timeout=10, message="node b stopped applying the log")


def _server_error(*arguments: str, secret_file: Path, db: Path) -> str:
    result = subprocess.run([str(BIN / "risklist-server"), "--db", str(db), "--secret-file", str(secret_file),
                             "--insecure-dev", "--workers", "1", "--listen", "127.0.0.1:0", "--admin-listen",
                             "127.0.0.1:0", *arguments], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    return result.stderr


@pytest.mark.parametrize(("flags", "message"), [
    (("--cluster", "nats://127.0.0.1:4222"), "--cluster needs --node-id"),
    (("--node-id", "a"), "--node-id is for a cluster node"),
    (("--cluster", "127.0.0.1:4222", "--node-id", "a"), "is not a NATS address: write nats://HOST:PORT"),
    (("--cluster", "nats://127.0.0.1:4222", "--node-id", "a b"), "--node-id 'a b': use 1-63 letters"),
    (("--cluster", "nats://127.0.0.1:4222", "--node-id", "a", "--log-max-bytes", "lots"), "--log-max-bytes 'lots'"),
])
def test_bad_cluster_flags_are_one_clear_error(flags: tuple[str, ...], message: str, tmp_path: Path,
                                               secret_file: Path) -> None:
    assert message in _server_error(*flags, secret_file=secret_file, db=tmp_path / "absent")


def test_a_node_with_another_networks_secret_is_refused_by_the_log(nodes: list[ServerProcess], cluster: NatsCluster,
                                                                    tmp_path: Path) -> None:
    """The log names the network (its secret's fingerprint): a node of another never applies or adds to it."""
    other = NetworkSecret.demo()
    other_file = write_secret(tmp_path / "other.secret", other)
    init_store(tmp_path / "other", other.fingerprint)
    error = _server_error(*_cluster_flags(cluster, "c"), secret_file=other_file, db=tmp_path / "other")
    assert "holds the writes of another network" in error and other.fingerprint in error
