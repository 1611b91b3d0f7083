"""What the writer's changelog trim costs: `python -m benchmarks.changelog_trim [--entries N] [--window W]`.

Fills a store with one-key writes (a Report's entry each), then times one trim of everything past the
window (the scan, the range deletion under the write lock, the compaction). Then rounds of one-key writes
alternate without and with the trim thread running beside them (every --interval seconds), so the two
are compared on the same store, as it grows; the paired ratio is the median of each pair's with/without.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
import time

from risklist_kernel.enums import Category, RiskLevel
from risklist_server.core.mutation import Upsert
from risklist_server.core.record import Contribution
from risklist_server.services.changelog_trim import ChangelogTrimmer
from risklist_server.store.changelog_trim import ChangelogWindow
from risklist_server.store.risk_store import RiskStore

CONTRIBUTION = Contribution("bank-a", Category.OTHER, RiskLevel.LOW, 1, 4_000_000_000, "REF-1")


def _writes(store: RiskStore, count: int) -> float:
    """Apply `count` one-key writes; return writes per second."""
    started = time.perf_counter()
    for _ in range(count):
        store.apply([Upsert(bytes((3,)) + secrets.token_bytes(16), CONTRIBUTION)])
    return count / (time.perf_counter() - started)


def _with_trimmer(store: RiskStore, window: ChangelogWindow, interval: float, count: int) -> float:
    trimmer = ChangelogTrimmer(store, window, interval=interval)
    trimmer.start()
    try:
        return _writes(store, count)
    finally:
        trimmer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=200_000, help="one-key writes before the timed trim")
    parser.add_argument("--window", type=int, default=20_000, help="changelog_max_entries for the trims")
    parser.add_argument("--interval", type=float, default=0.1,
                        help="the trim thread's pause during the paired rounds (production: 60 s)")
    parser.add_argument("--rounds", type=int, default=6, help="pairs of write rounds")
    parser.add_argument("--round-writes", type=int, default=20_000, help="one-key writes per round")
    args = parser.parse_args()
    window = ChangelogWindow(max_entries=args.window, max_age=10**9)
    with tempfile.TemporaryDirectory() as directory, \
            RiskStore(directory + "/db", create=True, secret_fingerprint="bench") as store:
        _writes(store, args.entries)
        before = store.changelog_bytes()
        started = time.perf_counter()
        done = store.trim_changelog(window)
        trimmed = time.perf_counter() - started
        store.compact_changelog(done.trimmed_through)
        compacted = time.perf_counter() - started - trimmed
        after = store.changelog_bytes()
        pairs = [(_writes(store, args.round_writes),
                  _with_trimmer(store, window, args.interval, args.round_writes)) for _ in range(args.rounds)]
    print(f"trim of {done.trimmed} entries (window {args.window}): {trimmed * 1000:.0f} ms "
          f"(scan + range deletion), compaction {compacted * 1000:.0f} ms; "
          f"changelog {before / 1e6:.1f} MB -> {after / 1e6:.2f} MB")
    print(f"one-key writes, {args.rounds} pairs of {args.round_writes}: "
          f"{statistics.median(p[0] for p in pairs) / 1000:.1f} k/s without the trim thread, "
          f"{statistics.median(p[1] for p in pairs) / 1000:.1f} k/s with it trimming every {args.interval:g} s; "
          f"paired ratio {statistics.median(p[1] / p[0] for p in pairs):.2f} "
          f"(range {min(p[1] / p[0] for p in pairs):.2f}-{max(p[1] / p[0] for p in pairs):.2f})")


if __name__ == "__main__":
    main()
