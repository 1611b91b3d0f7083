"""A cluster under faults, with real processes: three nats-servers, three risklist nodes, eight writing clients.

kill -9 of a whole node (supervisor and workers) in the middle of a Report storm: every Report that was
acknowledged is on both surviving nodes, and on the killed node once it restarted and caught up; clients that
used it went on through the others (each client moves to the next node when a write is not acknowledged, and
sends the same Report again: idempotent)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from tests.support.client_threads import ClientThreads
from tests.support.cluster_nodes import cluster_flags, phone, serving, unlisted, wait_for_nodes
from tests.support.running_server import ServerProcess, start_server
from tests.support.waiting import wait_until
from tools.local_nats import NatsCluster

CLIENTS = 8


@pytest.fixture()
def nodes(cluster: NatsCluster, tmp_path: Path, secret_file: Path) -> Iterator[list[ServerProcess]]:
    started = [start_server(tmp_path / name, secret_file, *cluster_flags(cluster, name, max_lag_s=2)) for name in "abc"]
    yield started
    for node in started:
        if node.process.poll() is None:
            node.terminate()


class Storm(ClientThreads):
    """CLIENTS threads, each reporting new subjects through its own order of nodes until stopped."""

    def __init__(self, addresses: list[str]) -> None:
        self.addresses = addresses
        self.acknowledged: list[int] = []
        self.moved = 0
        super().__init__([lambda index=index: self._client(index) for index in range(CLIENTS)])  # type: ignore[misc]

    def count(self) -> int:
        with self.lock:
            return len(self.acknowledged)

    def _client(self, index: int) -> None:
        stubs = [pb_grpc.RiskListStub(grpc.insecure_channel(address)) for address in self.addresses]
        current = index % len(stubs)
        number = index * 1_000_000
        while not self.stopping.is_set():
            number += 1
            request = pb.ReportRequest(reports=[pb.Report(subject=phone(number), category=pb.CATEGORY_MONEY_MULE,
                                                          level=pb.RISK_LEVEL_HIGH)])
            while not self.stopping.is_set():
                try:
                    stubs[current].Report(request, timeout=5)
                except grpc.RpcError:
                    current = (current + 1) % len(stubs)  # not acknowledged: the same Report to the next node
                    with self.lock:
                        self.moved += 1
                    continue
                with self.lock:
                    self.acknowledged.append(number)
                break


def test_kill_9_of_a_node_in_a_report_storm_loses_nothing_acknowledged(
        nodes: list[ServerProcess], tmp_path: Path, secret_file: Path, cluster: NatsCluster) -> None:
    wait_until(lambda: all(serving(node.address) for node in nodes), timeout=30,
               message="the nodes did not serve once caught up with the log")
    with Storm([node.address for node in nodes]) as storm:
        wait_until(lambda: storm.count() >= 200, timeout=60, message="the storm acknowledged too few Reports")
        nodes[2].kill()  # kill -9 of the node's whole process group, writer and all
        before = storm.count()
        wait_until(lambda: storm.count() >= before + 200, timeout=60,
                   message="the clients did not go on through the surviving nodes")
    acknowledged = sorted(storm.acknowledged)
    assert storm.moved > 0  # the killed node's clients did move
    for survivor in nodes[:2]:
        wait_until(lambda survivor=survivor: not unlisted(survivor.address, acknowledged), timeout=30,
                   message=f"{survivor.address} lacks acknowledged Reports")

    restarted = start_server(tmp_path / "c", secret_file, *cluster_flags(cluster, "c", max_lag_s=2))
    nodes[2] = restarted
    wait_until(lambda: serving(restarted.address), timeout=60, message="the killed node did not catch up")
    assert unlisted(restarted.address, acknowledged) == []


def test_nats_servers_killed_in_a_report_storm(nodes: list[ServerProcess], cluster: NatsCluster) -> None:
    """One of three killed: writes go on. A second: a write is UNAVAILABLE within its deadline while reads go on.
    Both back: writes resume, and every Report acknowledged at any point is on every node."""
    wait_until(lambda: all(serving(node.address) for node in nodes), timeout=30,
               message="the nodes did not serve once caught up with the log")
    with Storm([node.address for node in nodes]) as storm:
        wait_until(lambda: storm.count() >= 100, timeout=60, message="the storm acknowledged too few Reports")
        cluster.kill("n1")
        before = storm.count()
        wait_for_nodes(nodes, lambda: storm.count() >= before + 200, timeout=60,
                       message="writes stopped with one NATS server of three killed")
        cluster.kill("n2")
        # No quorum: a write is UNAVAILABLE within its deadline, and reads are still answered (from each node's
        # store, as far as it applied the log). A node may stay SERVING meanwhile: the surviving server may have
        # led the stream, and nothing can be acknowledged without a quorum, so the node misses nothing.
        stub = pb_grpc.RiskListStub(grpc.insecure_channel(nodes[0].address))
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as refused:
            stub.Report(pb.ReportRequest(reports=[pb.Report(subject=phone(99_999_999), category=pb.CATEGORY_MONEY_MULE,
                                                            level=pb.RISK_LEVEL_HIGH)]), timeout=3)
        assert refused.value.code() is grpc.StatusCode.UNAVAILABLE and time.monotonic() - started < 3
        stalled = storm.count()
        assert len(unlisted(nodes[0].address, sorted(storm.acknowledged))) < stalled  # reads are answered
        cluster.start()
        wait_until(lambda: storm.count() >= stalled + 100, timeout=90,
                   message="writes did not resume once the NATS servers returned")
    acknowledged = sorted(storm.acknowledged)
    for node in nodes:
        wait_for_nodes(nodes, lambda node=node: not unlisted(node.address, acknowledged), timeout=30,
                       message=f"{node.address} lacks acknowledged Reports", numbers=acknowledged)
