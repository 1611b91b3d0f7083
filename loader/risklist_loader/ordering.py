"""Which rows take effect, bucket by bucket: each bucket's applied rows in key order, written to disk.

A subject's rows all fall in one bucket (risklist_loader.buckets), so each bucket is decided alone:
its rows are put back in feed order (their lines), risklist_loader.feed_order decides every row's
fate, and the applied rows are written in storage-key order (then feed order) with their tails and
a `held` flag (rows that must go into one batch with the last applied row of their subject). The
counts of the whole feed are the sums over buckets. Memory is one bucket's rows at a time, per
process; big feeds are ordered on every core.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from risklist_loader.buckets import (
    PARALLEL_MIN_ROWS,
    BucketLayout,
    bucket_path,
    buckets_in,
    gather_tails,
    partition_spools,
    read_bucket,
    remove_bucket,
    tail_offsets,
)
from risklist_loader.feed_order import APPLY, REPEATED, SUPERSEDED, order_rows
from risklist_loader.parallel import ChunkResult
from risklist_loader.spool import ADD, ENTRY_DTYPE, EXPIRED, tail_path
from risklist_loader.worker_pool import Workers, stage_pool

ORDERED_DTYPE = np.dtype(ENTRY_DTYPE.descr + [("held", "u1")])
"""An applied row: the spool entry's fields, and whether it waits for its subject's last applied row."""


@dataclass(slots=True)
class FeedCounts:
    """What ordering found: accepted rows, and how many were repeated, superseded, expired or live adds."""

    accepted: int = 0
    repeated: int = 0
    superseded: int = 0
    expired: int = 0
    adds: int = 0
    applied: int = 0
    """Rows that take effect (what the batch path sends)."""

    def merge(self, other: FeedCounts) -> None:
        self.accepted += other.accepted
        self.repeated += other.repeated
        self.superseded += other.superseded
        self.expired += other.expired
        self.adds += other.adds
        self.applied += other.applied


@dataclass(frozen=True, slots=True)
class OrderedFeed:
    """A validated feed's applied rows: one ordered file per bucket in `directory`, buckets in key order."""

    directory: Path
    buckets: list[int] = field(default_factory=list)

    def path(self, bucket: int) -> Path:
        return ordered_path(self.directory, bucket)


def ordered_path(directory: Path, bucket: int) -> Path:
    """The applied rows of one bucket (ORDERED_DTYPE; tails in spool.tail_path of it)."""
    return directory / f"ordered-{bucket:08d}"


@dataclass(frozen=True, slots=True)
class _OrderTask:
    directory: Path
    buckets: tuple[int, ...]
    writers: tuple[int, ...]


def order_bucket(directory: Path, bucket: int, writers: Sequence[int]) -> FeedCounts:
    """Decide one bucket's rows, write its applied rows in key order, delete its bucket files."""
    counts, ordered = decide_bucket(directory, bucket, writers)
    path = ordered_path(directory, bucket)
    ordered.rows.tofile(path)
    tail_path(path).write_bytes(ordered.tails)
    remove_bucket(directory, bucket, writers)
    return counts


def decide_bucket(directory: Path, bucket: int, writers: Sequence[int]) -> tuple[FeedCounts, OrderedRows]:
    """One bucket's rows decided: its counts, and its applied rows in key order (then feed order) with their tails."""
    rows = read_bucket(directory, bucket, writers)
    by_line = np.argsort(rows.entries["line"], kind="stable")
    entries = rows.entries[by_line]
    offsets, tails = rows.offsets, rows.tails

    def same_tail(first: int, second: int) -> bool:
        one, other = int(by_line[first]), int(by_line[second])
        return bool(tails[offsets[one] : offsets[one + 1]].tobytes()
                    == tails[offsets[other] : offsets[other + 1]].tobytes())

    found = order_rows(entries["key"], entries["action"], entries["category"], same_tail)
    applied = found.fate == APPLY
    actions = entries["action"]
    counts = FeedCounts(
        accepted=len(entries),
        repeated=int(np.count_nonzero(found.fate == REPEATED)),
        superseded=int(np.count_nonzero(found.fate == SUPERSEDED)),
        expired=int(np.count_nonzero(applied & (actions == EXPIRED))),
        adds=int(np.count_nonzero(applied & (actions == ADD))),
        applied=int(np.count_nonzero(applied)),
    )
    order = found.order.astype(np.int64)
    keep = order[applied[order]]
    held = np.zeros(len(entries), dtype=np.uint8)
    held[found.held] = 1
    output = np.empty(len(keep), dtype=ORDERED_DTYPE)
    for name in ENTRY_DTYPE.names or ():
        output[name] = entries[name][keep]
    output["held"] = held[keep]
    return counts, OrderedRows(output, gather_tails(tails, offsets, by_line[keep]).tobytes(),
                               tail_offsets(output["tail"]))


def _order_many(task: _OrderTask) -> FeedCounts:
    counts = FeedCounts()
    for bucket in task.buckets:
        counts.merge(order_bucket(task.directory, bucket, task.writers))
    return counts


def order_buckets(directory: Path, buckets: Sequence[int], writers: Sequence[int], rows: int,
                  pool: Workers | None = None) -> FeedCounts:
    """Order every bucket (on every core for big feeds: the load's `pool`, or one of its own); the feed's counts."""
    count = max(1, min(os.cpu_count() or 1, 8)) if rows >= PARALLEL_MIN_ROWS else 1
    shares = [_OrderTask(directory, tuple(buckets[number::count]), tuple(writers)) for number in range(count)]
    counts = FeedCounts()
    if count == 1:
        counts.merge(_order_many(shares[0]))
        return counts
    with stage_pool(pool, count) as workers:
        for part in as_completed([workers.submit(_order_many, share) for share in shares]):
            counts.merge(part.result())
    return counts


@dataclass(frozen=True, slots=True)
class BucketFeed:
    """A validated feed's accepted rows in key-range buckets, not yet decided: the buckets' files in `directory`,
    from `writers` (risklist_loader.buckets.read_bucket)."""

    directory: Path
    buckets: list[int]
    writers: tuple[int, ...]
    accepted: int

    def rows(self, bucket: int) -> int:
        """The accepted rows of one bucket (from its files' sizes)."""
        paths = (bucket_path(self.directory, bucket, writer) for writer in self.writers)
        return sum(path.stat().st_size for path in paths if path.exists()) // ENTRY_DTYPE.itemsize


def bucket_chunks(results: Sequence[ChunkResult], directory: Path, pool: Workers | None = None) -> BucketFeed:
    """Pass 1's rows (its chunks' results) in `directory`'s buckets: pass 1 put them there itself, or into spools,
    which are partitioned into them here (and deleted as they are; on the load's `pool`, if given)."""
    accepted = sum(result.valid for result in results)
    spooled = [result.spool for result in results if result.spool is not None]
    if spooled or not results:
        return partitioned(spooled, directory, accepted, pool)
    writers = sorted({result.writer for result in results if result.writer is not None})
    return BucketFeed(directory, buckets_in(directory), tuple(writers), accepted)


def partitioned(spools: Sequence[Path], directory: Path, accepted: int, pool: Workers | None = None) -> BucketFeed:
    """Pass 1's spools (feed order, `accepted` rows in all) distributed into `directory`'s buckets (each spool
    deleted once distributed)."""
    writers = partition_spools(spools, directory, BucketLayout.for_rows(accepted), accepted, pool)
    return BucketFeed(directory, buckets_in(directory), tuple(writers), accepted)


def order_feed(feed: BucketFeed, pool: Workers | None = None) -> tuple[FeedCounts, OrderedFeed]:
    """Every bucket decided (on every core for big feeds: the load's `pool`, or one of its own): the feed's counts
    and its applied rows in key order."""
    counts = order_buckets(feed.directory, feed.buckets, feed.writers, feed.accepted, pool)
    return counts, OrderedFeed(feed.directory, feed.buckets)


@dataclass(frozen=True, slots=True)
class OrderedRows:
    """One bucket's applied rows in key order, with their tails."""

    rows: npt.NDArray[np.void]
    tails: bytes
    offsets: npt.NDArray[np.int64]

    def tail(self, position: int) -> bytes:
        return self.tails[int(self.offsets[position]) : int(self.offsets[position + 1])]


def read_ordered(feed: OrderedFeed, bucket: int) -> OrderedRows:
    path = feed.path(bucket)
    rows = np.fromfile(path, dtype=ORDERED_DTYPE)
    tails = tail_path(path).read_bytes()
    offsets = tail_offsets(rows["tail"])
    if int(offsets[-1]) != len(tails):
        raise OSError(f"{path}: rows and tails disagree (an interrupted ordering)")
    return OrderedRows(rows, tails, offsets)


def iter_ordered(feed: OrderedFeed) -> Iterator[OrderedRows]:
    """Every bucket's applied rows, buckets in key order."""
    for bucket in feed.buckets:
        yield read_ordered(feed, bucket)
