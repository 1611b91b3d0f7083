"""What a missed key costs RocksDB alone (no front) on a built store, opened read-only.

20,000 random absent keys: get one by one, and multi-get in batches of 1000; median of passes.
Usage: python -m benchmarks.rocksdb_miss STORE [STORE ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from rocksdict import AccessType, Options, Rdict

from risklist_server.store.rocks import COLUMN_FAMILIES, get_one, multi_get, records_options

KEYS = 20_000
BATCH = 1000


def measure(path: str) -> tuple[float, float]:
    """(ns per missed get, ns per missed key in a multi-get of BATCH)."""
    db = Rdict(path, options=records_options(), access_type=AccessType.read_only(),
               column_families={name: Options(raw_mode=True) for name in COLUMN_FAMILIES})
    try:
        keys = [bytes((1,)) + os.urandom(16) for _ in range(KEYS)]
        multi_get(db, keys[:BATCH])  # open every table once
        batched, single = [], []
        for _ in range(5):
            started = time.perf_counter()
            for start in range(0, KEYS, BATCH):
                multi_get(db, keys[start : start + BATCH])
            batched.append((time.perf_counter() - started) / KEYS * 1e9)
        for _ in range(3):
            started = time.perf_counter()
            for key in keys[:5000]:
                get_one(db, key)
            single.append((time.perf_counter() - started) / 5000 * 1e9)
        return statistics.median(single), statistics.median(batched)
    finally:
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stores", nargs="+")
    for path in parser.parse_args().stores:
        single, batched = measure(path)
        print(f"{path}: missed get {single:,.0f} ns, multi-get of {BATCH} {batched:,.0f} ns/key")


if __name__ == "__main__":
    main()
