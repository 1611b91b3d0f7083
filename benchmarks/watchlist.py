"""What a watchlist costs a bank: `python -m benchmarks.watchlist [--quick]`.

For 1M and 10M watched subjects (random storage keys, as digests are): the memory of the
in-memory key index (8-byte prefixes in a sorted array; a Python set of the 17-byte keys measured
beside it at 1M), and the CPU of one filter update of 10k listed keys, 10 of them watched: the
intersection on the refresh thread (KeyIndex.among) plus the state look-ups of the candidates
(labels and last verdicts in SQLite). The confirming BatchCheck is a server round trip and is not
counted. Then the SQLite state itself: bytes on disk per watched subject, time to add them, and
a re-screen's pass over every watched key against a filter (what a reset costs). --quick builds the
state at 1M only; without it, at 10M too (about 2-3 minutes more). Writes
benchmarks/results/watchlist.json (the mode is recorded in it).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.machine import describe_machine
from benchmarks.results import RESULTS_DIR, document, write_json
from risklist_client.watch_index import KeyIndex
from risklist_client.watch_state import WatchState
from risklist_kernel.bloom import BlockedBloom, words_for
from risklist_kernel.digest import KEY_SIZE

UPDATE_KEYS = 10_000
WATCHED_IN_UPDATE = 10
UPDATES = 20
FILTER_BITS_PER_KEY = 16
"""The server's default filter_bits_per_key (docs/operations.md), for the re-screen's filter."""


def sorted_keys(count: int, seed: int) -> Iterator[bytes]:
    """`count` random phone storage keys in ascending order, made from sorted random 8-byte prefixes."""
    generator = random.Random(seed)
    prefixes = sorted(generator.getrandbits(56) for _ in range(count))
    for prefix in prefixes:
        yield (0x03 << 56 | prefix).to_bytes(8, "big") + generator.randbytes(KEY_SIZE - 8)


def index_figures(count: int) -> tuple[dict[str, Any], KeyIndex, list[bytes]]:
    """Build the index of `count` keys under tracemalloc; keep a sample of watched keys for the updates."""
    sample: list[bytes] = []
    every = max(1, count // 1000)

    def keys() -> Iterator[bytes]:
        for number, key in enumerate(sorted_keys(count, seed=count)):
            if number % every == 0:
                sample.append(key)
            yield key

    gc.collect()
    before = _rss()
    started = time.perf_counter()
    index = KeyIndex(keys())
    built = time.perf_counter() - started
    gc.collect()
    return ({"subjects": count, "index_bytes": index.size_bytes, "bytes_per_subject": index.size_bytes / count,
             "build_seconds_with_key_generation": built, "rss_growth_bytes": _rss() - before}, index, sample)


def _rss() -> int:
    """This process's resident set size now (Linux /proc)."""
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def set_figures(count: int) -> dict[str, Any]:
    """The alternative: a Python set of the 17-byte keys (the set's slots plus one bytes object per key)."""
    generator = random.Random(1)
    gc.collect()
    tracemalloc.start()
    keys = {bytes((3,)) + generator.randbytes(KEY_SIZE - 1) for _ in range(count)}
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del keys
    return {"subjects": count, "bytes": held, "bytes_per_subject": held / count}


def update_figures(index: KeyIndex, sample: list[bytes], state: WatchState | None) -> dict[str, Any]:
    """CPU of one update of UPDATE_KEYS listed keys (WATCHED_IN_UPDATE watched), median of UPDATES."""
    generator = random.Random(7)
    index_seconds: list[float] = []
    state_seconds: list[float] = []
    found = 0
    for _ in range(UPDATES):
        keys = [bytes((3,)) + generator.randbytes(KEY_SIZE - 1) for _ in range(UPDATE_KEYS - WATCHED_IN_UPDATE)]
        keys += generator.sample(sample, WATCHED_IN_UPDATE)
        generator.shuffle(keys)
        update = b"".join(keys)
        started = time.process_time()
        candidates = index.among(update, KEY_SIZE)
        index_seconds.append(time.process_time() - started)
        found = len(candidates)
        if state is not None:
            started = time.process_time()
            state.labels(candidates)
            state.summaries(candidates)
            state_seconds.append(time.process_time() - started)
    figures: dict[str, Any] = {"update_keys": UPDATE_KEYS, "watched_in_update": WATCHED_IN_UPDATE,
                               "candidates": found, "intersect_ms_median": statistics.median(index_seconds) * 1000,
                               "intersect_ms_max": max(index_seconds) * 1000}
    if state_seconds:
        figures["state_lookups_ms_median"] = statistics.median(state_seconds) * 1000
        figures["total_ms_median"] = (statistics.median(index_seconds) + statistics.median(state_seconds)) * 1000
    return figures


def state_figures(count: int, directory: Path) -> tuple[dict[str, Any], WatchState]:
    """Add `count` subjects to a fresh state; its size on disk; one re-screen pass against a filter."""
    state = WatchState(directory / f"watch-{count}.sqlite", "bench")
    started = time.perf_counter()
    chunk: list[tuple[bytes, str]] = []
    for number, key in enumerate(sorted_keys(count, seed=count)):
        chunk.append((key, f"C{number:09d}"))
        if len(chunk) == 100_000:
            state.add(chunk)
            chunk = []
    state.add(chunk)
    added = time.perf_counter() - started
    size = sum(path.stat().st_size for path in directory.glob(f"watch-{count}.sqlite*"))
    started = time.perf_counter()
    reopened = KeyIndex(state.watched_keys())  # what a Watchlist does when it opens its state
    index_from_state = time.perf_counter() - started
    assert len(reopened) == count
    opened = _open_in_a_process(directory / f"watch-{count}.sqlite")
    bloom = BlockedBloom(words_for(1_000_000, FILTER_BITS_PER_KEY))
    generator = random.Random(3)
    bloom.add_many(bytes((3,)) + generator.randbytes(KEY_SIZE - 1) for _ in range(1_000_000))
    started = time.process_time()
    candidates = sum(1 for key in state.watched_keys() if bloom.might_contain(key))
    rescreen = time.process_time() - started
    return ({"subjects": count, "file_bytes": size, "file_bytes_per_subject": size / count,
             "add_seconds": added, "adds_per_second": count / added, "index_from_state_seconds": index_from_state,
             "rescreen_cpu_seconds": rescreen, "process_opening_it": opened, "rescreen_candidates": candidates,
             "rescreen_filter_keys": 1_000_000}, state)


OPEN_STATE = """
import json, sys
from risklist_client.watch_index import KeyIndex
from risklist_client.watch_state import WatchState
def rss():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096
before = rss()
state = WatchState(sys.argv[1], "bench")
index = KeyIndex(state.watched_keys())
def peak():  # VmHWM: this process's own high-water mark (ru_maxrss would carry the forking parent's over exec)
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) * 1024 for line in handle if line.startswith("VmHWM:"))
print(json.dumps({"rss_before_bytes": before, "rss_after_bytes": rss(), "index_bytes": index.size_bytes,
                  "peak_rss_bytes": peak()}))
"""


def _open_in_a_process(path: Path) -> dict[str, Any]:
    """What a fresh process holds after opening a state as a Watchlist does (its index built from it): RSS
    before (the interpreter and the SDK's imports), after, and at its peak."""
    done = subprocess.run([sys.executable, "-c", OPEN_STATE, str(path)], capture_output=True, text=True,
                          check=True, timeout=3600)
    figures: dict[str, Any] = json.loads(done.stdout)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="build the SQLite state at 1M only")
    parser.add_argument("--sizes", default="1000000,10000000", help="watchlist sizes (comma-separated)")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    state_sizes = [size for size in sizes if not args.quick or size <= 1_000_000]
    scenarios: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as directory:
        for size in sizes:
            figures, index, sample = index_figures(size)
            state: WatchState | None = None
            if size in state_sizes:
                state_part, state = state_figures(size, Path(directory))
                figures["state"] = state_part
            figures["update"] = update_figures(index, sample, state)
            if state is not None:
                state.close()
            print(f"{size:>11,} subjects: index {figures['bytes_per_subject']:.2f} B/subject "
                  f"({figures['index_bytes'] / 2**20:.0f} MiB, built with the keys' generation in "
                  f"{figures['build_seconds_with_key_generation']:.1f} s); "
                  f"update of {UPDATE_KEYS:,} keys: intersect {figures['update']['intersect_ms_median']:.1f} ms"
                  + (f", + state look-ups {figures['update']['state_lookups_ms_median']:.1f} ms; state "
                     f"{figures['state']['file_bytes_per_subject']:.0f} B/subject on disk, "
                     f"{figures['state']['adds_per_second'] / 1000:.0f} k adds/s, index from it in "
                     f"{figures['state']['index_from_state_seconds']:.1f} s (a process holding it: "
                     f"{figures['state']['process_opening_it']['peak_rss_bytes'] / 2**20:.0f} MiB peak RSS), re-screen "
                     f"{figures['state']['rescreen_cpu_seconds']:.1f} s CPU" if "state" in figures else ""))
            scenarios.append(figures)
            del index
        alternative = set_figures(1_000_000)
        print(f"set of 17-byte keys at 1M: {alternative['bytes_per_subject']:.0f} B/subject")
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    data = document(
        name="watchlist", command="python -m benchmarks.watchlist" + (" --quick" if args.quick else ""),
        mode="quick" if args.quick else "full", params={"sizes": sizes, "state_sizes": state_sizes},
        machine=describe_machine(), scenarios=scenarios,
        targets=[{"target": "10M watched subjects in < 1 GiB", "measured_bytes": next(
                      (s["index_bytes"] for s in scenarios if s["subjects"] == 10_000_000), None)},
                 {"target": "an update of 10k listed keys in <= 100 ms", "measured_ms": max(
                      s["update"].get("total_ms_median", s["update"]["intersect_ms_median"]) for s in scenarios)}],
        notes=[f"set of 17-byte keys at 1M: {alternative['bytes_per_subject']:.1f} bytes per subject",
               f"peak RSS of the whole run: {peak_rss / 2**20:.0f} MiB (key generation included)"])
    write_json(RESULTS_DIR / "watchlist.json", data)


if __name__ == "__main__":
    main()
