"""Do RocksDB's own SST Bloom filters still pay behind the Bloom front? Miss cost and memory with and without.

Opens a built store read-only twice, each in a fresh process: with the filters its SSTs hold
(10 bits/key) and with the table options' filter policy unset, so RocksDB never loads or
consults them. For each: memory (RocksDB's table-readers estimate: index and filter blocks,
and the process's RSS), a missed get and a missed key in a multi-get of 1000 with no front,
the keys the front lets through by mistake (its false positives: the only misses that reach
RocksDB behind it), and the whole read path (front, then RocksDB) on a 99%-miss query stream.
Usage: python -m benchmarks.sst_filter --entries 10M [--seed 1]
Writes benchmarks/results/sst_filter-<entries>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from rocksdict import AccessType, Options, Rdict

from benchmarks.datagen import parse_count
from benchmarks.dataset import Dataset, count_label
from benchmarks.machine import describe_machine
from benchmarks.procstats import read_proc
from risklist_kernel.digest import KEY_SIZE
from risklist_server.store.front_file import SavedFront, load_front
from risklist_server.store.reads import FRONT_FILE
from risklist_server.store.rocks import COLUMN_FAMILIES, SST_FILTER_BITS, get_one, multi_get, records_options
from risklist_server.store.store_id import front_owner_of_store

RESULTS = Path(__file__).parent / "results"
BATCH = 1000
QUERIES = 100_000
FALSE_POSITIVES = 2000
MISSES = 5000
PASSES = 5


def _slice(keys: list[bytes], number: int, size: int) -> list[bytes]:
    """The number-th run of `size` keys: each pass probes keys no earlier pass read."""
    return keys[number * size : (number + 1) * size]


def _median_ns(run: list[float], count: int) -> float:
    return round(statistics.median(run) / count * 1e9, 1)


def _timed(function: Callable[[int], object], passes: int) -> list[float]:
    """Seconds of each pass; pass n gets n, so passes over keys can use fresh ones (no warmed cache)."""
    times = []
    for number in range(passes):
        started = time.perf_counter()
        function(number)
        times.append(time.perf_counter() - started)
    return times


def measure_one(dataset: Dataset, filter_bits: int) -> dict[str, object]:
    """The figures of one configuration, in this process."""
    rss_before = read_proc(os.getpid())
    db = Rdict(str(dataset.store), options=records_options(sst_filter_bits=filter_bits),
               access_type=AccessType.read_only(),
               column_families={name: Options(raw_mode=True) for name in COLUMN_FAMILIES})
    try:
        saved = load_front(dataset.store / FRONT_FILE, front_owner_of_store(dataset.store, dataset.secret.fingerprint))
        assert isinstance(saved, SavedFront), saved
        front = saved.front
        rng = np.random.default_rng(dataset.seed)
        absent = [bytes((1 + n % 4,)) + rng.bytes(16) for n in range(MISSES * PASSES + BATCH)]
        multi_get(db, absent[-BATCH:])  # open every table once
        leaked: list[bytes] = []
        while len(leaked) < FALSE_POSITIVES * PASSES:  # random keys the front lets through: its false positives
            packed = rng.bytes(KEY_SIZE * 200_000)
            for index in front.might_contain_packed(packed).nonzero()[0].tolist():
                leaked.append(packed[index * KEY_SIZE : (index + 1) * KEY_SIZE])
        queries = dataset.queries(QUERIES)
        packed_queries = [b"".join(queries.keys[start : start + BATCH]) for start in range(0, QUERIES, BATCH)]

        def stream(_: int) -> None:
            for packed in packed_queries:
                candidates = front.might_contain_packed(packed).nonzero()[0].tolist()
                multi_get(db, [packed[i * KEY_SIZE : (i + 1) * KEY_SIZE] for i in candidates])

        def single_stream(_: int) -> None:
            for key in queries.keys[:20_000]:
                if front.might_contain(key):
                    get_one(db, key)

        figures: dict[str, object] = {
            "sst_filter_bits_per_key": filter_bits,
            "missed_get_ns": _median_ns(_timed(lambda n: [get_one(db, k) for k in _slice(absent, n, MISSES)], PASSES),
                                        MISSES),
            "missed_multi_get_ns_per_key": _median_ns(_timed(lambda n: [
                multi_get(db, _slice(absent, n, MISSES)[s : s + BATCH]) for s in range(0, MISSES, BATCH)], PASSES),
                MISSES),
            "front_false_positive_get_ns": _median_ns(
                _timed(lambda n: [get_one(db, k) for k in _slice(leaked, n, FALSE_POSITIVES)], PASSES),
                FALSE_POSITIVES),
            "front_false_positive_multi_get_ns_per_key": _median_ns(
                _timed(lambda n: multi_get(db, _slice(leaked, n, FALSE_POSITIVES)), PASSES), FALSE_POSITIVES),
            "behind_front_batch_ns_per_key": _median_ns(_timed(stream, PASSES), QUERIES),
            "behind_front_single_ns_per_key": _median_ns(_timed(single_stream, PASSES), 20_000),
            "table_readers_mib": round((db.property_int_value("rocksdb.estimate-table-readers-mem") or 0) / 2**20, 1),
        }
        after = read_proc(os.getpid())
        assert rss_before is not None and after is not None
        figures["process_rss_mib"] = round(after.rss_bytes / 2**20, 1)
        figures["front_mib"] = round(front.size_bytes / 2**20, 1)
        return figures
    finally:
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=parse_count, default=10_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only-filter-bits", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    dataset = Dataset(args.entries, args.seed)
    if args.only_filter_bits is not None:
        print(json.dumps(measure_one(dataset, args.only_filter_bits)))
        return
    if not dataset.store.exists():
        parser.error(f"no store at {dataset.store}; build it first (python -m benchmarks.node_memory --entries …)")
    configurations = []
    for bits in (SST_FILTER_BITS, 0):  # a fresh process each, so RSS is that configuration's alone
        output = subprocess.run([sys.executable, "-m", "benchmarks.sst_filter", "--entries", str(args.entries),
                                 "--seed", str(args.seed), "--only-filter-bits", str(bits)],
                                check=True, capture_output=True, text=True).stdout
        configurations.append(json.loads(output.strip().splitlines()[-1]))
    result = {"name": "sst_filter", "params": {"entries": args.entries, "queries": QUERIES, "batch": BATCH,
                                               "front_false_positives": FALSE_POSITIVES, "passes": PASSES},
              "configurations": configurations, "machine": describe_machine()}
    print(json.dumps(result, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"sst_filter-{count_label(args.entries)}.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
