"""The cluster scenario end to end on a tiny data set: three real nats-servers and three nodes against a node
alone, Reports, replication lag, a load through the admin port, and Check and BatchCheck on a follower node each
measured (issue 14, item 9)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.context import Context, Settings
from benchmarks.dataset import Dataset
from benchmarks.loadgen import ClientPool
from benchmarks.scenarios import cluster

TINY = Settings(duration=1.0, warmup=0.2, queries=1000, client_processes=1, client_threads=2, live_entries=2000)


def test_the_cluster_is_measured_beside_a_node_alone(tmp_path: Path) -> None:
    dataset = Dataset(1000, 5, root=tmp_path)
    workdir = tmp_path / "work"
    workdir.mkdir()
    with ClientPool(TINY.client_processes) as clients:
        results = {result.name: result for result in
                   cluster.run(Context(TINY, dataset, dataset.queries(TINY.queries), workdir, clients, None))}
    reports = results["cluster_report"]
    assert reports.ops_per_s > 0 and reports.peers["node alone"]["ops_per_s"] > 0
    assert reports.extra["errors"] == 0 and reports.ratio["node alone"] > 0
    lag = results["cluster_replication_lag"]
    assert lag.extra["samples"] > 0 and lag.extra["unseen"] == 0 and lag.latency_ms is not None
    load = results["cluster_load"]
    assert load.ops_per_s > 0 and load.params["rows"] > 0 and load.ratio["node alone"] > 0
    for name in ("cluster_check", f"cluster_batch_check_{cluster.READ_BATCH}"):
        reads = results[name]
        assert reads.ops_per_s > 0 and reads.extra["errors"] == 0 and reads.ratio["node alone"] > 0
        assert reads.extra["per_core_ratio"] > 0  # the figure the issue compares: keys per server core-second
    assert not list(workdir.glob("cluster-*")) and not list(workdir.glob("alone-*"))  # nothing left behind
