"""How long a wiped cluster node takes to rejoin from the cluster's checkpoint (issue 14 item 9: ≤ 2 min at 10M).

Builds (once, cached in benchmarks/data/) the harness's store of ENTRIES and copies it. The copy is marked as a
cluster node's store: the cluster's list id in its meta, as a node that applied the log holds (a store loaded
alone is otherwise refused as a node). Three nats-servers start (tools/local_nats.py, on this machine's disk), the
copy is published as the cluster's checkpoint by the node's own publisher (timed: backup, pack, upload), then a
risklist node starts with --cluster on a directory that does not exist, and is timed until it serves (download,
SHA-256 check, unpack, verify, restore, open, front) and answers a Check of a listed subject. Each run starts a
new node from nothing. Usage:
  python -m benchmarks.cluster_rejoin [--entries 10M] [--runs 3] [--quick]
--quick: 200k entries, 1 run, results not written; otherwise benchmarks/results/cluster_rejoin.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import grpc
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from benchmarks.dataset import DATA, Dataset, copy_store
from benchmarks.machine import describe_machine
from benchmarks.scenarios import bulk_load
from risklist_server.cluster.checkpoint_bucket import CheckpointBucket
from risklist_server.cluster.checkpoint_publisher import CheckpointPublisher
from risklist_server.cluster.node import LIST_ID
from risklist_server.cluster.write_log import LogSettings, WriteLog
from risklist_server.process.launch import launch
from risklist_server.store.risk_store import RiskStore
from risklist_server.store.rocks import META_CF, open_rocks
from tools.local_nats import NatsCluster

RESULTS = Path(__file__).parent / "results" / "cluster_rejoin.json"
COUNTS = {"200k": 200_000, "2M": 2_000_000, "10M": 10_000_000}


class _AlwaysHolds:
    """The benchmark's publisher holds the checkpoint lease (no other node runs)."""

    def hold_lease(self, name: str, holder: str) -> bool:
        return True


def _mark_as_node_store(store: Path, list_id: str) -> None:
    """Give the copied store the cluster's list id, as a node's store that applied the log holds."""
    db = open_rocks(str(store), 8 * 1024 * 1024)
    try:
        meta = db.get_column_family(META_CF)
        meta.put(b"cluster_list_id", list_id.encode("ascii"))
        meta.close()
    finally:
        db.close()


def _publish(store_path: Path, dataset: Dataset, cluster: NatsCluster, work: Path) -> dict[str, object]:
    """Publish `store_path` as the cluster's checkpoint; the publish's figures."""
    network = dataset.secret.fingerprint
    settings = LogSettings(replicas=3, max_bytes=1 << 30)
    with WriteLog(cluster.urls, settings, network=network).open() as write_log:
        list_id = uuid.uuid4().hex
        write_log.cluster_value(LIST_ID, list_id.encode("ascii"))
        _mark_as_node_store(store_path, list_id)
        store = RiskStore(store_path, secret_fingerprint=network)
        try:
            publisher = CheckpointPublisher(store, _AlwaysHolds(), CheckpointBucket(write_log, replicas=3,
                                                                                      network=network),
                                            node_id="publisher", interval_s=3600, work_dir=work / "publish")
            started = time.perf_counter()
            info = publisher.publish_once()
            seconds = time.perf_counter() - started
        finally:
            store.close()
    assert info is not None
    return {"seconds": round(seconds, 2), "list_version": info.list_version}


def _rejoin(dataset: Dataset, cluster: NatsCluster, directory: Path, probe: pb.CheckRequest) -> dict[str, float]:
    """Start a node on the absent `directory`; seconds until it serves and until a Check finds `probe` listed."""
    started = time.perf_counter()
    node = launch(directory, dataset.secret_file, ("--workers", "1", "--insecure-dev", "--cluster",
                                                   ",".join(cluster.urls), "--node-id", "rejoining",
                                                   "--checkpoint-interval", "0"), init=False)
    try:
        serving = time.perf_counter() - started
        with grpc.insecure_channel(node.address) as channel:
            answer = pb_grpc.RiskListStub(channel).Check(probe, timeout=30)
        answered = time.perf_counter() - started
        assert answer.verdict.listed, "the rejoined node does not list a subject of the checkpoint"
        restored = next(line for line in node.log_lines if line.get("event") == "checkpoint_restored")
    finally:
        node.terminate()
    return {"serving_s": round(serving, 2), "first_check_s": round(answered, 2),
            "restore_s": float(restored.get("seconds", 0.0))}


def measure(entries: int, runs: int) -> dict[str, object]:
    dataset = Dataset(entries, 1)
    DATA.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="rejoin-bench-", dir=DATA))
    cluster = NatsCluster.create(work / "nats")
    try:
        bulk_load.ensure_store(dataset, work)
        store = copy_store(dataset.store, work / "store")
        store_bytes = sum(path.stat().st_size for path in store.rglob("*") if path.is_file())
        cluster.start()
        publish = _publish(store, dataset, cluster, work)
        probe = _listed_probe(store, dataset)
        rejoins = [_rejoin(dataset, cluster, work / f"node-{run}", probe) for run in range(runs)]
        for run in range(runs):
            shutil.rmtree(work / f"node-{run}", ignore_errors=True)
        return {
            "name": "cluster_rejoin",
            "params": {"entries": entries, "runs": runs, "nats_servers": 3, "replicas": 3},
            "store_bytes": store_bytes,
            "publish": publish,
            "rejoins": rejoins,
            "median_serving_s": statistics.median(run["serving_s"] for run in rejoins),
            "median_first_check_s": statistics.median(run["first_check_s"] for run in rejoins),
            "target_s": 120,
            "machine": describe_machine(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        }
    finally:
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)


def _listed_probe(store_path: Path, dataset: Dataset) -> pb.CheckRequest:
    """A Check of the first subject the store lists."""
    store = RiskStore(store_path, secret_fingerprint=dataset.secret.fingerprint)
    try:
        key, _ = next(store.iter_records())
    finally:
        store.close()
    return pb.CheckRequest(subject=pb.Subject(type=key[0], digest=key[1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", choices=sorted(COUNTS), default="10M")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    entries, runs = (COUNTS["200k"], 1) if args.quick else (COUNTS[args.entries], args.runs)
    result = measure(entries, runs)
    print(json.dumps(result, indent=1))
    if not args.quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
