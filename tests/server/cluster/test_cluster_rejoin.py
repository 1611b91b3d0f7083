"""Checkpoints: the node holding the lease publishes its store to the cluster's object store, and a node whose
log entries are gone (behind the log's retention) or whose directory was wiped restores it at start, then applies
the rest of the log: every node ends with identical records."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
from pathlib import Path

import grpc
import nats
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from risklist_server.cluster.write_log import STREAM
from risklist_server.process.launch import LaunchedServer, launch
from tests.support.cluster_nodes import cluster_flags, phone, serving, unlisted, wait_for_nodes
from tests.support.running_server import BIN, start_server
from tests.support.store_digest import records_digest
from tools.local_nats import NatsCluster

MAX_LAG_S = 2.0


def _report(address: str, numbers: range) -> int:
    """Report `numbers` through the node at `address`, 50 a call; the list version of the last answer."""
    stub = pb_grpc.RiskListStub(grpc.insecure_channel(address))
    version = 0
    for start in range(numbers.start, numbers.stop, 50):
        reports = [pb.Report(subject=phone(number), category=pb.CATEGORY_MONEY_MULE, level=pb.RISK_LEVEL_HIGH)
                   for number in range(start, min(start + 50, numbers.stop))]
        version = stub.Report(pb.ReportRequest(reports=reports), timeout=10).list_version
    return int(version)


def _drop_log_entries_before(cluster: NatsCluster, sequence: int) -> int:
    """Purge the stream's entries before `sequence`, as its retention would; the oldest entry it then holds."""
    async def purge() -> int:
        client = await nats.connect(servers=cluster.urls)
        try:
            stream = client.jetstream()
            await stream.purge_stream(STREAM, seq=sequence)
            return int((await stream.stream_info(STREAM)).state.first_seq)
        finally:
            await client.close()

    return asyncio.run(purge())


def test_a_node_behind_the_logs_retention_and_a_wiped_node_rejoin_from_the_checkpoint(
        cluster: NatsCluster, tmp_path: Path, secret_file: Path) -> None:
    """Node b is frozen while the network writes on, a checkpoint is published and the log drops the entries b
    needs: once it runs again it stops, restores the checkpoint (its old store moved aside) and serves again on its
    ports. Node c starts with no directory at all and restores it too. All three end with identical records."""
    publisher = start_server(tmp_path / "a", secret_file, *cluster_flags(cluster, "a", max_lag_s=MAX_LAG_S),
                             "--checkpoint-interval", "0.5")
    behind = start_server(tmp_path / "b", secret_file, "--workers", "2",
                          *cluster_flags(cluster, "b", max_lag_s=MAX_LAG_S), "--checkpoint-interval", "0")
    nodes: list[LaunchedServer] = [publisher, behind]
    try:
        _report(publisher.address, range(0, 100))
        wait_for_nodes(nodes, lambda: not unlisted(behind.address, list(range(100))), timeout=30,
                       message="node b never applied the first writes")
        os.killpg(behind.process.pid, signal.SIGSTOP)
        try:
            last_version = _report(publisher.address, range(100, 300))
            published = publisher.wait_for_log(lambda line: line.get("event") == "checkpoint_published"
                                               and int(line.get("list_version", 0)) >= last_version, timeout=60)
            first = _drop_log_entries_before(cluster, int(published["log_position"]) + 1)
            assert first == int(published["log_position"]) + 1  # node b's next entry is gone from the log
            _report(publisher.address, range(300, 320))  # after the checkpoint: applied from the log
        finally:
            os.killpg(behind.process.pid, signal.SIGCONT)
        behind.wait_for_log(lambda line: line.get("event") == "checkpoint_restored", timeout=60)

        wiped = launch(tmp_path / "c", secret_file, ("--workers", "1", "--insecure-dev",
                                                     *cluster_flags(cluster, "c", max_lag_s=MAX_LAG_S)), init=False)
        nodes.append(wiped)
        everything = list(range(320))
        for node in (behind, wiped):
            wait_for_nodes(nodes, lambda node=node: serving(node.address) and not unlisted(node.address, everything),
                           timeout=60, message=f"{node.address} did not rejoin with every write", numbers=everything)
        assert any(line.get("event") == "checkpoint_restored" for line in wiped.log_lines)
        assert any(path.name.startswith("b.replaced-") for path in tmp_path.iterdir())  # moved aside, not deleted
        digests = {records_digest(tmp_path / name) for name in ("a", "b", "c")}
        assert len(digests) == 1 and next(iter(digests))[0] == 320
        versions = {pb_grpc.RiskListStub(grpc.insecure_channel(node.address)).Check(
            pb.CheckRequest(subject=phone(0)), timeout=5).list_version for node in nodes}
        assert len(versions) == 1
    finally:
        for node in nodes:
            node.terminate()


def test_a_new_node_without_a_checkpoint_is_refused_once_the_log_lost_its_first_entries(
        cluster: NatsCluster, tmp_path: Path, secret_file: Path) -> None:
    """Starting empty and applying the log would miss the entries it no longer holds: the node refuses to start
    and says what would make it whole."""
    only = start_server(tmp_path / "a", secret_file, *cluster_flags(cluster, "a", max_lag_s=MAX_LAG_S),
                        "--checkpoint-interval", "0")
    try:
        _report(only.address, range(0, 10))
        assert _drop_log_entries_before(cluster, 3) == 3
    finally:
        only.terminate()
    shutil.rmtree(tmp_path / "a")
    refused = subprocess.run([str(BIN / "risklist-server"), "--db", str(tmp_path / "a"), "--secret-file",
                              str(secret_file), "--insecure-dev", "--workers", "1", "--listen", "127.0.0.1:0",
                              "--admin-listen", "127.0.0.1:0", *cluster_flags(cluster, "a", max_lag_s=MAX_LAG_S)],
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1, refused.stderr
    assert "the log no longer holds its first entries" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not (tmp_path / "a").exists()  # nothing half made in its place
