"""Per-key lookup latency with and without a Bloom front, on a ≥1M-entry store, 99% misses.

Arrangements compared in one run (the same store, the same query stream):
  rocksdb-only     rocksdict get / multi-get; RocksDB's own per-SST Bloom answers misses
  front (ours)     register-blocked Bloom over the digest bytes (server/risklist_server/store/front.py)
  pybloom-live     the user's named filter (SHA-based hashing of each key's repr)
  rbloom           Rust Bloom with a digest-derived hash function
Each figure is the median of --runs runs. Usage:
  python -m benchmarks.front_filter [--entries 1000000] [--queries 200000] [--runs 5] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

from benchmarks.machine import describe_machine
from risklist_kernel.enums import Category, RiskLevel
from risklist_server.core.mutation import Upsert
from risklist_server.core.record import Contribution
from risklist_server.process.logs import configure_logging
from risklist_server.store.front import BloomFront
from risklist_server.store.risk_store import RiskStore
from risklist_server.store.rocks import open_rocks

RESULTS = Path(__file__).parent / "results" / "front_filter.json"


def _keys(rng: random.Random, count: int) -> list[bytes]:
    return [bytes((rng.randint(1, 7),)) + rng.randbytes(16) for _ in range(count)]


def build_store(path: str, listed: Sequence[bytes]) -> None:
    contribution = Contribution("bench-bank", Category.MONEY_MULE, RiskLevel.HIGH, 1_700_000_000,
                                2_000_000_000, "")
    store = RiskStore(path, create=True, secret_fingerprint="bench")
    for start in range(0, len(listed), 20_000):
        store.apply([Upsert(key, contribution) for key in listed[start : start + 20_000]])
    store.flush()
    store.close()


def _time_per_key(run: Callable[[], None], keys: int, runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) / keys * 1e9)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="write front_filter.quick.json instead")
    args = parser.parse_args()
    configure_logging("console")
    rng = random.Random(2)
    listed = _keys(rng, args.entries)
    hits = rng.sample(listed, args.queries // 100)
    queries = _keys(rng, args.queries - len(hits)) + hits
    rng.shuffle(queries)
    batches = [queries[i : i + args.batch] for i in range(0, len(queries), args.batch)]

    import pybloom_live
    import rbloom

    with tempfile.TemporaryDirectory(prefix="front-bench-") as path:
        started = time.perf_counter()
        build_store(path, listed)
        build_seconds = time.perf_counter() - started
        db = open_rocks(path, create=True)
        ours = BloomFront.for_capacity(args.entries)
        ours.add_many(listed)
        pybloom = pybloom_live.BloomFilter(capacity=args.entries, error_rate=0.001)
        for key in listed:
            pybloom.add(key)
        rust = rbloom.Bloom(args.entries, 0.001, lambda key: int.from_bytes(key[1:17], "little", signed=True))
        rust.update(listed)
        get = db.get
        get_many = cast(Callable[[list[bytes]], list[bytes | None]], db.get)  # rocksdict multi-get
        for key in queries[:20_000]:  # warm the block cache
            get(key)

        def single(screen: Callable[[bytes], bool] | None) -> Callable[[], None]:
            def plain() -> None:
                for key in queries:
                    get(key)

            def screened() -> None:
                assert screen is not None
                for key in queries:
                    if screen(key):
                        get(key)
            return plain if screen is None else screened

        def batch_plain() -> None:
            for keys in batches:
                get_many(keys)

        def batch_ours() -> None:
            for keys in batches:
                found = ours.might_contain_many(keys).nonzero()[0]
                if len(found):
                    get_many([keys[i] for i in found.tolist()])

        def batch_screened(screen: Callable[[bytes], bool]) -> Callable[[], None]:
            def run() -> None:
                for keys in batches:
                    candidates = [key for key in keys if screen(key)]
                    if candidates:
                        get_many(candidates)
            return run

        n = len(queries)
        hit_set = set(hits)
        misses = [key for key in queries if key not in hit_set]
        results = {
            "single_ns_per_key": {
                "rocksdb-only": _time_per_key(single(None), n, args.runs),
                "front (ours)": _time_per_key(single(ours.might_contain), n, args.runs),
                "pybloom-live": _time_per_key(single(pybloom.__contains__), n, args.runs),
                "rbloom": _time_per_key(single(rust.__contains__), n, args.runs),
            },
            f"batch{args.batch}_ns_per_key": {
                "rocksdb-only": _time_per_key(batch_plain, n, args.runs),
                "front (ours)": _time_per_key(batch_ours, n, args.runs),
                "pybloom-live": _time_per_key(batch_screened(pybloom.__contains__), n, args.runs),
                "rbloom": _time_per_key(batch_screened(rust.__contains__), n, args.runs),
            },
            "false_positive_rate": {
                "front (ours)": sum(map(ours.might_contain, misses)) / len(misses),
                "pybloom-live": sum(map(pybloom.__contains__, misses)) / len(misses),
                "rbloom": sum(map(rust.__contains__, misses)) / len(misses),
            },
            "filter_bytes": {"front (ours)": ours.size_bytes, "pybloom-live": pybloom.num_bits // 8},
        }
        db.close()
    document = {
        "benchmark": "front_filter",
        "params": {"entries": args.entries, "queries": args.queries, "miss_ratio": 0.99,
                   "runs": args.runs, "batch": args.batch, "store_build_seconds": round(build_seconds, 1)},
        "machine": describe_machine(),
        "results": results,
    }
    out = RESULTS.with_suffix(".quick.json") if args.quick else RESULTS
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps(document, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
