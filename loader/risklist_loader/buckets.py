"""Pass 1's rows in key-range buckets on disk, so that no stage holds a whole feed's rows.

A bucket is a range of storage keys: the entity-type byte, then the top bits of the digest. Buckets
in ascending number hold ascending keys, so processing them one after another visits the feed in key
order, and each holds about `TARGET_ROWS` rows whatever the feed's size (the layout grows with the
feed's lines, whichever entity types they are). Each bucket is a set of files, one pair per writer:
entries (spool.ENTRY_DTYPE) and their tails, appended to by that writer alone. Reading a bucket
concatenates its writers' files; its rows carry their feed lines, so the bucket's own feed order is a sort
away (risklist_loader.ordering), whatever order the writers appended in.

Two ways fill them. For feeds of up to `DIRECT_MAX_DIGEST_BITS` (most feeds), pass 1's workers append
each chunk's rows to the buckets themselves (BucketWriter; the writer is the worker's process id): a
chunk's rows touch every bucket, so this costs a few file appends per bucket and chunk. For bigger
layouts those appends would be too small and too many, so pass 1 writes a spool per chunk and
partitioning reads them, a block of `BLOCK_ROWS` rows at a time, appending each block's rows of a bucket to
that bucket's files of its task (the writer is the task's number).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from risklist_kernel.digest import KEY_SIZE
from risklist_loader.spool import ENTRY_DTYPE, SpoolWriter, tail_path
from risklist_loader.worker_pool import Workers, stage_pool

TARGET_ROWS = 1_000_000
"""Most rows a bucket should hold (its processing holds it whole: some 150 bytes a row)."""

BLOCK_ROWS = 1_000_000
"""Rows of the spools a partitioning task reads and distributes at a time."""

MAX_DIGEST_BITS = 16
"""Buckets per entity type are at most 2**16 (keys by their type byte and first two digest bytes)."""

DIRECT_MAX_DIGEST_BITS = 7
"""Layouts of up to this many digest bits (feeds of up to 128 x TARGET_ROWS lines) are filled by pass 1 itself:
up to 128 buckets per entity type, two file appends each per chunk of some 90,000 rows, cost less than
partitioning's second pass over every row (about 0.65 us of CPU a row)."""

DIRECT_TARGET_ROWS = 250_000
"""Rows per bucket pass 1 aims at when it fills the buckets itself (up to DIRECT_MAX_DIGEST_BITS): smaller
buckets than partitioning's share the cores more evenly in ordering and building, and are sorted and built
within the caches."""

PARALLEL_MIN_ROWS = 2_000_000
"""Accepted rows from which partitioning (and the stages after it) run on every core."""


@dataclass(frozen=True, slots=True)
class BucketLayout:
    """How keys map to buckets: the type byte, then the digest's top `digest_bits` bits."""

    digest_bits: int

    @classmethod
    def for_rows(cls, rows: int, target: int | None = None) -> BucketLayout:
        """Enough buckets that even a feed of one entity type puts about `target` (TARGET_ROWS) rows in each."""
        target = TARGET_ROWS if target is None else target
        bits = 0
        while bits < MAX_DIGEST_BITS and rows > target << bits:
            bits += 1
        return cls(bits)

    def of(self, keys: npt.NDArray[np.bytes_]) -> npt.NDArray[np.int64]:
        """Each key's bucket number: ascending with the key bytes."""
        raw = np.ascontiguousarray(keys).view(np.uint8).reshape(-1, KEY_SIZE)
        kind = raw[:, 0].astype(np.int64)
        prefix = (raw[:, 1].astype(np.int64) << 8) | raw[:, 2].astype(np.int64)
        return (kind << self.digest_bits) | (prefix >> (16 - self.digest_bits))


def direct_layout(lines: int, max_bits: int = DIRECT_MAX_DIGEST_BITS) -> BucketLayout | None:
    """The layout pass 1 fills itself for a feed of `lines` lines, or None when it is too big for that (pass 1
    then writes spools, and partitioning fills BucketLayout.for_rows of the accepted rows)."""
    if max_bits < 0 or BucketLayout.for_rows(lines).digest_bits > max_bits:
        return None
    return BucketLayout(min(BucketLayout.for_rows(lines, DIRECT_TARGET_ROWS).digest_bits, max_bits))


def bucket_path(directory: Path, bucket: int, writer: int) -> Path:
    """The entries file of one bucket written by one writer (its tails: spool.tail_path of it)."""
    return directory / f"bucket-{bucket:08d}.{writer:03d}"


def buckets_in(directory: Path) -> list[int]:
    """The numbers of the buckets that hold rows, ascending (one listing of the directory)."""
    return sorted({int(name.split(".")[0].removeprefix("bucket-")) for name in os.listdir(directory)
                   if name.startswith("bucket-")})


@dataclass(frozen=True, slots=True)
class PartitionTask:
    """Distribute the spools `paths` (in feed order) into `directory`'s buckets as task number `task`."""

    paths: tuple[Path, ...]
    directory: Path
    layout: BucketLayout
    task: int


def tail_offsets(lengths: npt.NDArray[np.uint16]) -> npt.NDArray[np.int64]:
    """Where each row's tail starts in its rows' concatenated tails, and (last) their total length."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets


GATHER_ROWS = 65_536
"""Rows whose tails gather_tails copies at a time (a slice takes rows x its longest tail bytes, twice)."""


def gather_tails(data: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64],
                 rows: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]:
    """The tails of `rows` (positions into `offsets`), one after another, a slice of rows at a time.

    Each slice copies, per row, a window as wide as the slice's longest tail from where the row's tail starts (a
    strided view of `data`: one memcpy-like copy per row, in C), then keeps each row's first `length` bytes."""
    starts = offsets[rows]
    lengths = offsets[rows + 1] - starts
    output = np.empty(int(lengths.sum()), dtype=np.uint8)
    if not len(output):
        return output
    padded = np.concatenate((data, np.zeros(int(lengths.max()), dtype=np.uint8)))  # a window may run past the end
    written = 0
    for first in range(0, len(starts), GATHER_ROWS):
        part_starts, part_lengths = starts[first : first + GATHER_ROWS], lengths[first : first + GATHER_ROWS]
        width = int(part_lengths.max())
        if not width:
            continue
        windows = np.lib.stride_tricks.sliding_window_view(padded, width)[part_starts]
        kept = windows[np.arange(width) < part_lengths[:, None]]
        output[written : written + len(kept)] = kept
        written += len(kept)
    return output


def partition(task: PartitionTask) -> int:
    """Run one partitioning task; return how many rows it distributed."""
    entries_block: list[npt.NDArray[np.void]] = []
    tails_block: list[bytes] = []
    read: list[Path] = []
    held = written = 0
    for path in task.paths:
        entries = np.fromfile(path, dtype=ENTRY_DTYPE)
        tails = tail_path(path).read_bytes()
        if len(tails) != int(entries["tail"].sum(dtype=np.int64)):
            raise OSError(f"the spool {path} and its tails disagree: pass 1 did not finish writing it")
        entries_block.append(entries)
        tails_block.append(tails)
        read.append(path)
        held += len(entries)
        if held >= BLOCK_ROWS:
            written += _distribute(task, entries_block, tails_block)
            _remove_spools(read)
            entries_block, tails_block, read, held = [], [], [], 0
    if entries_block:
        written += _distribute(task, entries_block, tails_block)
    _remove_spools(read)
    return written


def _remove_spools(paths: list[Path]) -> None:
    """Delete distributed spools at once, so the scratch disk holds about one copy of the rows."""
    for path in paths:
        path.unlink(missing_ok=True)
        tail_path(path).unlink(missing_ok=True)


def _distribute(task: PartitionTask, entries_parts: list[npt.NDArray[np.void]], tails_parts: list[bytes]) -> int:
    return distribute(entries_parts, tails_parts, task.directory, task.layout, task.task)


def distribute(entries_parts: list[npt.NDArray[np.void]], tails_parts: list[bytes], directory: Path,
               layout: BucketLayout, writer: int) -> int:
    """Append rows to their buckets' files of `writer` (their order kept within each bucket)."""
    entries = np.concatenate(entries_parts)
    if len(entries) == 0:
        return 0
    tails = np.frombuffer(b"".join(tails_parts), dtype=np.uint8)
    buckets = layout.of(entries["key"])
    # A stable sort of 16-bit numbers is a radix sort, an order of magnitude faster than one of int64s.
    order = np.argsort(buckets.astype(np.uint16) if int(buckets.max()) < 1 << 16 else buckets, kind="stable")
    entries = entries[order]
    offsets = tail_offsets(entries["tail"])
    sorted_tails = gather_tails(tails, tail_offsets(np.concatenate([part["tail"] for part in entries_parts])), order)
    sorted_buckets = buckets[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_buckets[1:] != sorted_buckets[:-1])))
    ends = np.concatenate((starts[1:], [len(entries)]))
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        path = bucket_path(directory, int(sorted_buckets[start]), writer)
        with path.open("ab") as handle:
            handle.write(entries[start:end].tobytes())
        with tail_path(path).open("ab") as handle:
            handle.write(sorted_tails[offsets[start] : offsets[end]].tobytes())
    return len(entries)


def partition_spools(paths: Sequence[Path], directory: Path, layout: BucketLayout, rows: int,
                     pool: Workers | None = None) -> list[int]:
    """Distribute pass 1's spools (in feed order) into `directory`'s buckets, on every core for big feeds (the
    load's `pool`, or one of its own); return the writers (task numbers) for read_bucket.

    Each task takes a contiguous share of the spools and writes bucket files of its own, so tasks
    never share a file; each spool is deleted once its rows are in their buckets.
    """
    directory.mkdir(exist_ok=True)
    count = max(1, min(os.cpu_count() or 1, 8)) if rows >= PARALLEL_MIN_ROWS else 1
    count = min(count, max(1, len(paths)))
    bounds = [len(paths) * number // count for number in range(count + 1)]
    tasks = [PartitionTask(tuple(paths[bounds[number] : bounds[number + 1]]), directory, layout, number)
             for number in range(count)]
    if count == 1:
        partition(tasks[0])
    else:
        with stage_pool(pool, count) as workers:
            list(workers.map(partition, tasks))
    return list(range(count))


@dataclass(frozen=True, slots=True)
class BucketRows:
    """One bucket's rows (entries in writer order, each writer's in the order it appended them) and their tails."""

    entries: npt.NDArray[np.void]
    tails: npt.NDArray[np.uint8]
    offsets: npt.NDArray[np.int64]
    """Row i's tail is tails[offsets[i]:offsets[i + 1]]."""


def read_bucket(directory: Path, bucket: int, writers: Sequence[int]) -> BucketRows:
    """Every row of one bucket, from the files of its `writers` (in that order)."""
    entries_parts: list[npt.NDArray[np.void]] = []
    tails_parts: list[bytes] = []
    for writer in writers:
        path = bucket_path(directory, bucket, writer)
        if not path.exists():
            continue
        entries_parts.append(np.fromfile(path, dtype=ENTRY_DTYPE))
        tails_parts.append(tail_path(path).read_bytes())
    entries = np.concatenate(entries_parts) if entries_parts else np.zeros(0, dtype=ENTRY_DTYPE)
    tails = np.frombuffer(b"".join(tails_parts), dtype=np.uint8)
    offsets = tail_offsets(entries["tail"])
    if int(offsets[-1]) != len(tails):
        raise OSError(f"bucket {bucket} in {directory}: entries and tails disagree (an interrupted partitioning)")
    return BucketRows(entries, tails, offsets)


def remove_bucket(directory: Path, bucket: int, writers: Sequence[int]) -> None:
    """Delete one bucket's files once it is processed (disk use stays about one copy of the feed's rows)."""
    for writer in writers:
        path = bucket_path(directory, bucket, writer)
        path.unlink(missing_ok=True)
        tail_path(path).unlink(missing_ok=True)


class BucketWriter(SpoolWriter):
    """Pass 1's spool for one chunk when pass 1 fills the buckets itself: the chunk's rows are held in memory
    and appended to their buckets' files of `writer` when it closes (one worker process per writer)."""

    def __init__(self, directory: Path, layout: BucketLayout, writer: int) -> None:
        self._start(directory, io.BytesIO(), io.BytesIO())
        self._directory, self._layout, self._writer = directory, layout, writer

    def close(self) -> None:
        """Append the rows written so far to their buckets (also those before a fatal line: a fatal problem
        stops the load, and its scratch directory goes with it)."""
        assert isinstance(self._entries, io.BytesIO) and isinstance(self._tails, io.BytesIO)
        entries = np.frombuffer(self._entries.getvalue(), dtype=ENTRY_DTYPE)
        distribute([entries], [self._tails.getvalue()], self._directory, self._layout, self._writer)
        self._entries, self._tails = io.BytesIO(), io.BytesIO()
