"""The in-process ceiling: rocksdict get / multi-get, and our RiskStore lookup path, without gRPC."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from risklist_server.store.risk_store import RiskStore
from risklist_server.store.rocks import get_one, multi_get

ROUNDS = 5
"""Paths are measured in alternation, this many rounds each, and the median kept: a noisy
neighbour then slows every path alike instead of whichever happened to run at the time."""


def _keys_per_second(run: Callable[[], None], keys: int, min_seconds: float) -> float:
    """Repeat `run` (one pass over `keys` keys) for at least `min_seconds`; keys per second."""
    passes, started = 0, time.perf_counter()
    while True:
        run()
        passes += 1
        elapsed = time.perf_counter() - started
        if elapsed >= min_seconds:
            return passes * keys / elapsed


def alternate(paths: dict[str, Callable[[], None]], keys: int, min_seconds: float,
              rounds: int = ROUNDS) -> dict[str, float]:
    """Median keys/s of each path over `rounds` rounds that run every path in turn."""
    for run in paths.values():
        run()  # warm the block cache and the code paths
    samples: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(rounds):
        for name, run in paths.items():
            samples[name].append(_keys_per_second(run, keys, min_seconds / rounds))
    return {name: statistics.median(values) for name, values in samples.items()}


def measure(store_path: Path, secret_fingerprint: str, keys: Sequence[bytes], batch_sizes: Sequence[int],
            *, min_seconds: float = 1.0) -> dict[str, float]:
    """Keys/s of each in-process path over the same query keys (99% misses), in one process.

    rocksdict_get / rocksdict_multi_get_N: RocksDB alone (its own SST Bloom filters);
    store_lookup / store_lookup_many_N: RiskStore, i.e. the Bloom front then RocksDB.
    """
    store = RiskStore(store_path, create=True, secret_fingerprint=secret_fingerprint)
    try:
        db = store._db  # the same RocksDB handle the store reads through
        n = len(keys)

        def rocks_single() -> None:
            for key in keys:
                get_one(db, key)

        def ours_single() -> None:
            lookup = store.lookup
            for key in keys:
                lookup(key)

        results = alternate({"rocksdict_get": rocks_single, "store_lookup": ours_single}, n, min_seconds)
        for size in batch_sizes:
            batches = [list(keys[i : i + size]) for i in range(0, n, size)]

            def rocks_batch(batches: list[list[bytes]] = batches) -> None:
                for batch in batches:
                    multi_get(db, batch)

            def ours_batch(batches: list[list[bytes]] = batches) -> None:
                lookup_many = store.lookup_many
                for batch in batches:
                    lookup_many(batch)

            results.update(alternate({f"rocksdict_multi_get_{size}": rocks_batch,
                                      f"store_lookup_many_{size}": ours_batch}, n, min_seconds))
        return results
    finally:
        store.close()
