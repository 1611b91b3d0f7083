"""RiskListClient given a cluster's nodes, with real processes: three nats-servers and risklist-server --cluster nodes
over mutual TLS. Every call is answered while a node is killed with kill -9 mid-traffic, and no call goes to a node
that reports NOT_SERVING, even while it still answers from a store that lacks the latest writes. A dns: name reaches
the node it resolves to, its certificate checked against the name."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_client import CheckFailed, Report, RiskListClient
from risklist_client.targets import TargetLike
from risklist_kernel.secret import NetworkSecret
from tests.client.members import PARTNERS, member_network
from tests.support.client_threads import ClientThreads
from tests.support.cluster_nodes import cluster_flags
from tests.support.mtls import DevNetwork, dev_network
from tests.support.running_server import ServerProcess, start_server
from tests.support.waiting import wait_until
from tools.local_nats import NatsCluster

MAX_LAG_S = 5.0
"""The nodes' --max-lag (the default): a node reads the log every 0.5 s, so a smaller one lets a busy test machine
turn a healthy node NOT_SERVING for a moment."""
STOPPED_MAX_LAG_S = 1.0
"""The --max-lag of the node whose writer is stopped: it turns NOT_SERVING this long after."""
LISTED = "+86 139 5555 0001"
UNLISTED = "+86 139 5555 0002"
SERVICE = "risklist.v1.RiskList"


class Cluster:
    """Nodes over mutual TLS on `nats`, each started as a risklist-server --cluster with its own store."""

    def __init__(self, nats: NatsCluster, root: Path, secret_file: Path, secret: NetworkSecret) -> None:
        self.nats = nats
        self.root = root
        self.secret_file = secret_file
        self.secret = secret
        (root / "tls").mkdir()
        self.network: DevNetwork = dev_network(root / "tls", PARTNERS)
        self.nodes: list[ServerProcess] = []

    def start(self, name: str, *extra: str, max_lag_s: float = MAX_LAG_S) -> ServerProcess:
        node = start_server(self.root / name, self.secret_file, *extra,
                            *cluster_flags(self.nats, name, max_lag_s=max_lag_s), tls=self.network.server_tls)
        self.nodes.append(node)
        return node

    def health(self, node: ServerProcess) -> int | None:
        """What `node` says for risklist.v1.RiskList on grpc health (what the SDK routes by); None: no answer."""
        with self.network.channel(node.address, "bank-a") as channel:
            try:
                answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=SERVICE),
                                                                   timeout=5)
            except grpc.RpcError:
                return None
        return int(answer.status)

    def filter_version(self, node: ServerProcess) -> int:
        """The list version of the filter `node` serves now (GetFilter's header; it serves one for up to 5 s)."""
        with self.network.channel(node.address, "bank-a") as channel:
            chunks = pb_grpc.RiskListStub(channel).GetFilter(pb.GetFilterRequest(), timeout=10)
            try:
                return int(next(iter(chunks)).header.version)
            finally:
                chunks.cancel()

    def wait_serving(self) -> None:
        wait_until(lambda: all(self.health(node) == health_pb2.HealthCheckResponse.SERVING for node in self.nodes),
                   timeout=60, message="the nodes did not serve once caught up with the log")

    def client(self, target: TargetLike, **options: Any) -> RiskListClient:
        """A RiskListClient as bank-a (a contributor) to `target`."""
        tls = self.network.client("bank-a")
        credentials = grpc.ssl_channel_credentials(tls.ca, tls.key, tls.cert)
        return RiskListClient(target, credentials, secret=self.secret, **{"deadline": 3.0, **options})

    def stop(self) -> None:
        for node in self.nodes:
            if node.process.poll() is None:
                node.terminate()


@pytest.fixture()
def nodes(cluster: NatsCluster, tmp_path: Path, secret_file: Path, secret: NetworkSecret) -> Iterator[Cluster]:
    started = Cluster(cluster, tmp_path, secret_file, secret)
    try:
        yield started
    finally:
        started.stop()


class Traffic(ClientThreads):
    """Threads checking the listed and an unlisted phone through one client each, recording every answer."""

    def __init__(self, clients: list[RiskListClient]) -> None:
        self.answers: list[tuple[bool, bool]] = []
        self.failures: list[str] = []
        super().__init__([lambda client=client: self._run(client) for client in clients])  # type: ignore[misc]

    def count(self) -> int:
        with self.lock:
            return len(self.answers)

    def _run(self, client: RiskListClient) -> None:
        while not self.stopping.is_set():
            try:
                listed, unlisted = client.check_many([("phone", LISTED), ("phone", UNLISTED)])
            except CheckFailed as error:
                with self.lock:
                    self.failures.append(str(error))
                continue
            with self.lock:
                self.answers.append((listed.listed, unlisted.listed))


def test_every_call_is_answered_while_a_node_is_killed_mid_traffic(nodes: Cluster) -> None:
    """Given both nodes' addresses, a client answers every check correctly while one node is killed with kill -9,
    and its writes go on through the survivor."""
    a, b = nodes.start("a"), nodes.start("b")
    nodes.wait_serving()
    addresses = [a.address, b.address]
    with nodes.client(addresses, prescreen=False) as direct, \
            nodes.client(",".join(addresses), positive_cache_seconds=0, update_interval=0.2) as screening:
        assert direct.report([Report("phone", LISTED, "money_mule", "high")]).added == 1
        for node in (a, b):
            with nodes.client(node.address, prescreen=False) as only:
                wait_until(lambda only=only: only.check("phone", LISTED).listed, timeout=10,
                           message=f"node {node.address} never applied the Report")
                version = only.check("phone", LISTED).list_version
            # A filter downloaded from a node (its first, or after a reset) holds the Report from now on.
            wait_until(lambda node=node, version=version: nodes.filter_version(node) >= version, timeout=10,
                       message=f"node {node.address} served an older filter for too long")
        wait_until(lambda: screening.check("phone", LISTED).listed, timeout=10, message="the filter never caught up")
        with Traffic([direct, direct, screening]) as traffic:
            wait_until(lambda: traffic.count() >= 200, timeout=60, message="too few checks answered before the kill")
            os.killpg(b.pid, signal.SIGKILL)  # the whole node: supervisor and worker
            b.process.wait()
            killed_at = traffic.count()
            wait_until(lambda: traffic.count() >= killed_at + 200, timeout=60,
                       message="the client did not go on through the surviving node")
        assert direct.report([Report("phone", UNLISTED, "money_mule", "high")]).added == 1
        assert direct.revoke([("phone", UNLISTED)]).removed == 1
        # Both nodes name one list and count its versions alike: moving between them never costs a download.
        assert screening.metrics().filter_resets == 0
    assert traffic.failures == [], f"{len(traffic.failures)} checks failed, first: {traffic.failures[0]}"
    assert set(traffic.answers) == {(True, False)}


def _health_states(node: ServerProcess, workers: set[str]) -> dict[str, str | None]:
    """The last health switch each of `workers` logged (cluster_serving or cluster_not_serving; None: none yet)."""
    states: dict[str, str | None] = dict.fromkeys(workers)
    for line in list(node.log_lines):
        if line.get("event") in ("cluster_serving", "cluster_not_serving") and line.get("worker") in states:
            states[str(line["worker"])] = str(line["event"])
    return states


def test_a_node_reporting_not_serving_gets_no_calls(nodes: Cluster) -> None:
    """A node whose writer stopped applying the log turns NOT_SERVING and, asked directly, lacks a later Report;
    a client given its address and a serving node's answers every check from the serving node, and one whose only
    node is that one fails the check rather than answer from it."""
    a, c = nodes.start("a"), nodes.start("c", "--workers", "2", max_lag_s=STOPPED_MAX_LAG_S)
    nodes.wait_serving()
    pids = c.serving["pids"]
    assert isinstance(pids, dict)
    writer = int(pids["writer"])
    readers = {name for name in pids if name != "writer"}
    os.kill(writer, signal.SIGSTOP)  # node c applies nothing more; its readers answer from what it has
    try:
        # Each reader turns NOT_SERVING on its own, up to a check round apart (and one may not have turned SERVING
        # yet); asking health on one connection reaches one of them. Every reader must be NOT_SERVING before a
        # call may never reach node c.
        try:
            wait_until(lambda: all(state == "cluster_not_serving" for state in _health_states(c, readers).values()),
                       timeout=STOPPED_MAX_LAG_S + 10, message="a reader of node c kept SERVING")
        except AssertionError as error:
            raise AssertionError(f"{error}; the readers' last health lines: {_health_states(c, readers)}") from None
        assert nodes.health(c) == health_pb2.HealthCheckResponse.NOT_SERVING
        with nodes.client(a.address, prescreen=False) as only_a:
            assert only_a.report([Report("phone", LISTED, "money_mule", "high")]).added == 1
        with nodes.client(c.address, prescreen=False) as only_c:
            assert not only_c.check("phone", LISTED).listed  # what a call routed to node c would answer
        with nodes.client([a.address, c.address], prescreen=False) as both:
            answers = [both.check("phone", LISTED).listed for _ in range(50)]
        assert answers == [True] * 50
        only_c_checked = nodes.client(f"dns:///localhost:{c.port}", prescreen=False)  # health-checked, as a list
        with only_c_checked, pytest.raises(CheckFailed) as failed:
            only_c_checked.check("phone", LISTED)
        assert failed.value.code == "DEADLINE_EXCEEDED"  # it waited for a serving node: never the stale "not listed"
    finally:
        os.kill(writer, signal.SIGCONT)


def test_a_dns_name_reaches_its_node_over_mutual_tls(tmp_path: Path, secret_file: Path, secret: NetworkSecret) -> None:
    """dns:///localhost:PORT resolves through grpc's DNS resolver, and the node's certificate is checked against
    "localhost" (one of the names risklist-admin certs puts in it)."""
    with member_network(tmp_path, secret_file) as (network, server):
        tls = network.client("bank-a")
        credentials = grpc.ssl_channel_credentials(tls.ca, tls.key, tls.cert)
        with RiskListClient(f"dns:///localhost:{server.port}", credentials, secret=secret, prescreen=False,
                            deadline=5.0) as client:
            assert client.report([Report("phone", LISTED, "money_mule", "high")]).added == 1
            assert client.check("phone", LISTED).listed
