"""A node's memory with N reader workers: PSS (and RSS) of every server process, read from smaps_rollup.

Serves a copy of the cached store (benchmarks/data, built by risklist-load if missing) with
risklist-server --workers N, sends BatchCheck calls of random digests to every worker so each
touches its front and RocksDB's index and filters, then reads /proc/PID/smaps_rollup of the
supervisor, the writer and the readers. PSS shares each shared page (the memory-mapped front
file, shared libraries) among the processes mapping it, so the PSS sum is what the node uses.
Usage: python -m benchmarks.node_memory --entries 2M [--workers 2] [--label after]
Writes benchmarks/results/node_memory-<label>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import tempfile
from pathlib import Path

import grpc
from risklist.v1 import risklist_pb2 as pb
from risklist.v1 import risklist_pb2_grpc as pb_grpc

from benchmarks.datagen import parse_count
from benchmarks.dataset import Dataset, copy_store
from benchmarks.machine import describe_machine
from benchmarks.procstats import read_proc
from benchmarks.scenarios.bulk_load import ensure_store
from benchmarks.server_proc import start_server

RESULTS = Path(__file__).parent / "results"
CALLS = 200
BATCH = 1000
FIELDS = ("Rss", "Pss", "Pss_Anon", "Pss_File", "Shared_Clean", "Private_Dirty")


def smaps_rollup(pid: int) -> dict[str, int]:
    """The rollup's fields in bytes (kB in the file)."""
    figures: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        parts = rest.split()
        if len(parts) == 2 and parts[1] == "kB":
            figures[name] = int(parts[0]) * 1024
    return figures


def _tree(root: int) -> list[int]:
    """The root and all its descendants (walking /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            info = read_proc(int(entry.name))
            if info is not None:
                children.setdefault(info.ppid, []).append(info.pid)
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending += children.get(pid, [])
    return found


def _role(pid: int, root: int, store: Path) -> str:
    """supervisor (the started process), writer (holds the store's LOCK file open), or reader."""
    if pid == root:
        return "supervisor"
    lock = str(store / "LOCK")
    try:
        descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
        if any(os.readlink(descriptor) == lock for descriptor in descriptors):
            return "writer"
    except OSError:
        return "gone"
    return "reader"


def _touch(address: str, connections: int) -> None:
    """BatchCheck of random digests on several connections, so SO_REUSEPORT spreads them over the readers."""
    for _ in range(connections):
        with grpc.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
            stub = pb_grpc.RiskListStub(channel)
            for _ in range(CALLS // connections):
                subjects = [pb.Subject(type=1 + n % 4, digest=secrets.token_bytes(16)) for n in range(BATCH)]
                stub.BatchCheck(pb.BatchCheckRequest(subjects=subjects), timeout=30)


def measure(dataset: Dataset, workers: int) -> dict[str, object]:
    """Per-process and summed PSS/RSS of a served copy of the dataset's store."""
    with tempfile.TemporaryDirectory(prefix="risklist-memory-") as scratch:
        store = copy_store(dataset.store, Path(scratch) / "store")
        with start_server(store, dataset.secret_file, workers=workers) as server:
            _touch(server.address, 8)
            processes = []
            root = server.process.pid
            for pid in _tree(root):
                try:
                    figures = smaps_rollup(pid)
                except OSError:
                    continue
                processes.append({"pid": pid, "role": _role(pid, root, store),
                                  **{name.lower() + "_mib": round(figures.get(name, 0) / 2**20, 1) for name in FIELDS}})
            front_file = store / "risklist-front.bin"
            front_mib = round(front_file.stat().st_size / 2**20, 1) if front_file.exists() else None
    return {
        "name": "node_memory",
        "params": {"entries": dataset.entries, "workers": workers, "touch_calls": CALLS, "batch": BATCH},
        "front_file_mib": front_mib,
        "pss_sum_mib": round(sum(float(str(p["pss_mib"])) for p in processes), 1),
        "rss_sum_mib": round(sum(float(str(p["rss_mib"])) for p in processes), 1),
        "processes": processes,
        "machine": describe_machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=parse_count, default=2_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--label", default="run")
    args = parser.parse_args()
    dataset = Dataset(args.entries, args.seed)
    with tempfile.TemporaryDirectory(prefix="risklist-memory-build-") as workdir:
        ensure_store(dataset, Path(workdir))
    result = measure(dataset, args.workers)
    print(json.dumps(result, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"node_memory-{args.label}.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
