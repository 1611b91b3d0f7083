"""The bulk path of --db: a validated feed into a store as sorted SST files, ingested at once.

Each builder decides its buckets' rows (risklist_loader.ordering.decide_bucket: which take effect, in
storage-key order) and builds their records at once, with no ordered copy written between: a key with one
add row gets the record header, the source and that row's spooled tail; a key with several rows gets its
mutations applied in feed order and counted as one write, as the batch path would. Nothing is taken into
the store until every bucket is built and the caller, shown the feed's counts, agrees. Builders (one per
core for big feeds) take contiguous bucket ranges of about equal rows in turn, each range writing its own SST
files and a file of the keys it listed; the changelog entries and the front are made from those files a slice
at a time, so memory holds one bucket and the front. Then risklist_server.store.bulk writes the changelog
entries, the front and the files (RiskStore.bulk_ingest says why in that order).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import structlog

from risklist_kernel.digest import KEY_SIZE
from risklist_kernel.enums import Category
from risklist_loader.buckets import remove_bucket
from risklist_loader.ordering import BucketFeed, FeedCounts, OrderedRows, decide_bucket
from risklist_loader.spool import ADD
from risklist_loader.spool import key_list as spooled_keys
from risklist_loader.worker_pool import Workers, stage_pool
from risklist_server.core.mutation import Mutation, MutationCounts, Removal, Upsert, apply_all_counted
from risklist_server.core.record import Record, contribution_from_tail, encode_record, record_prefix
from risklist_server.store.apply import ApplyResult
from risklist_server.store.bulk import (
    CHANGES_PER_ENTRY,
    SstWriter,
    bulk_dir,
    remove_bulk_dirs,
)
from risklist_server.store.changelog import LISTED, UNLISTED, entry_header
from risklist_server.store.risk_store import RiskStore

log = structlog.get_logger("risklist.loader")

BULK_MIN_ROWS = 100_000
"""Default smallest feed (accepted rows) that takes the bulk path into an empty store."""

PARALLEL_BUILD_MIN = 1_000_000
"""Applied rows from which records are built by one process per core."""

PARTS_PER_CORE = 4
"""Bucket ranges per builder process: the buckets of one entity type can hold far more rows than another's, and
ranges of equal rows, taken in turn, keep every core busy to the end."""


GoAhead = Callable[[FeedCounts], bool]
"""Shown the feed's counts once every record is built: whether to take them into the store."""


def bulk_into_store(store: RiskStore, source: str, feed: BucketFeed, go_ahead: GoAhead = lambda _: True,
                    pool: Workers | None = None) -> tuple[FeedCounts, ApplyResult | None]:
    """Decide the feed's rows and build every record they change, merged with what the store holds; then, if
    `go_ahead` agrees, ingest them. The feed's counts, and what applying did (None: nothing was applied).

    Into an empty store the records are built on every core (nothing to read: the load's `pool`, or one of its
    own); into a filled one by this
    process, which reads each bucket's stored records with one multi-get and writes the changed ones
    (and deletions) into SST files, taken with RiskStore.bulk_merge.
    """
    started = time.monotonic()
    remove_bulk_dirs(store.path)
    rows = feed.accepted
    try:
        directory = bulk_dir(store.path, str(time.time_ns()))
        empty = not store.has_records()
        parts = _parts(feed.buckets, [feed.rows(bucket) for bucket in feed.buckets], rows) if empty else [feed.buckets]
        tasks = [_BuildTask(feed, source, directory, number, tuple(part)) for number, part in enumerate(parts)]
        if not empty:
            built = [build_buckets(tasks[0], store.lookup_many)]
        elif len(tasks) == 1:
            built = [build_buckets(tasks[0])]
        else:
            with stage_pool(pool, min(len(tasks), _build_cores(rows))) as builders:
                built = list(builders.map(build_buckets, tasks))
        result = ApplyResult()
        counts = FeedCounts()
        paths: list[Path] = []
        changed = listed = 0
        for part in built:
            counts.merge(part.counts)
            result.merge(part.result)
            paths.extend(part.paths)
            changed += part.changed
            listed += part.listed
        change_files = [part.changes for part in built]
        log.info("bulk_built", changed=changed, listed=listed, files=len(paths), merged=not empty,
                 seconds=round(time.monotonic() - started, 3))
        if not go_ahead(counts):
            return counts, None
        if empty:
            store.bulk_ingest(paths, _changelog(change_files), _listed_slices(change_files), listed)
        else:
            store.bulk_merge(paths, _changelog(change_files), _listed_slices(change_files),
                             sum(part.new_listed for part in built))
        log.info("bulk_ingested", changed=changed, list_version=store.version)
    finally:
        remove_bulk_dirs(store.path)  # also when a full disk stopped the build: no scratch left behind
    return counts, result


@dataclass(frozen=True, slots=True)
class _BuildTask:
    """Build the records of `buckets` (ascending, contiguous in key order) into SST files named by `number`."""

    feed: BucketFeed
    source: str
    directory: Path
    number: int
    buckets: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class _Built:
    """One builder's share: its counts, its SST files, and the keys it changed (a file of changelog rows:
    LISTED or not, then the 17-byte key; in key order)."""

    counts: FeedCounts
    """What deciding its buckets' rows found."""
    result: ApplyResult
    paths: list[Path]
    changes: Path
    changed: int
    listed: int
    new_listed: int
    """Keys listed that the store did not hold before (what the front gains)."""


StoredRecords = Callable[[Sequence[bytes]], list[Record | None]]
"""The stored records of keys (RiskStore.lookup_many), for a merge into a filled store."""

CHANGE_ROW = 1 + KEY_SIZE
NO_CHANGE = 255
"""A key's state in _build_bucket when its rows leave its record as it was: no changelog row."""


def _parts(buckets: list[int], bucket_rows: list[int], rows: int) -> list[list[int]]:
    """Contiguous bucket ranges of about equal rows for the builders: PARTS_PER_CORE per core (a builder that
    finishes early takes the next range), one range when the feed is small."""
    cores = _build_cores(rows)
    count = min(cores * PARTS_PER_CORE if cores > 1 else 1, len(buckets))
    if count <= 1:
        return [buckets]
    running = np.cumsum(np.asarray(bucket_rows, dtype=np.int64))
    goals = running[-1] * np.arange(1, count) / count
    cuts = sorted({int(cut) for cut in np.searchsorted(running, goals, side="left") + 1 if 0 < cut < len(buckets)})
    bounds = [0, *cuts, len(buckets)]
    return [buckets[first:last] for first, last in zip(bounds[:-1], bounds[1:], strict=True)]


def _build_cores(rows: int) -> int:
    """Builder processes: one per core (at most 8) for big feeds, else none (this process builds)."""
    return max(1, min(os.cpu_count() or 1, 8)) if rows >= PARALLEL_BUILD_MIN else 1


def _change_slices(paths: list[Path], per_slice: int = CHANGES_PER_ENTRY) -> Iterator[npt.NDArray[np.uint8]]:
    """The changelog rows of every builder, in key order, `per_slice` at a time (n x 18 bytes): the slices
    do not depend on how the buckets were shared out, so neither do the changelog entries.

    Read a slice at a time, not mapped: a mapping's pages would count towards the loader's memory until the
    whole file was unmapped (18 bytes per changed key, 1.7 GB at 100M).
    """
    pending = np.zeros((0, CHANGE_ROW), dtype=np.uint8)
    for path in paths:
        with path.open("rb") as stream:
            while chunk := stream.read((per_slice - len(pending)) * CHANGE_ROW):
                if len(chunk) % CHANGE_ROW:
                    raise ValueError(f"{path} ends in a partial change row: the bulk build was cut short")
                rows = np.frombuffer(chunk, dtype=np.uint8).reshape(-1, CHANGE_ROW)
                pending = np.concatenate((pending, rows)) if len(pending) else rows
                if len(pending) == per_slice:
                    yield pending
                    pending = pending[:0]
    if len(pending):
        yield pending


def _changelog(paths: list[Path]) -> Iterator[bytes]:
    """The changelog entries (risklist_server.store.changelog) of every change, CHANGES_PER_ENTRY each."""
    for rows in _change_slices(paths):
        yield entry_header(int(time.time())) + rows.tobytes()


def _listed_slices(paths: list[Path]) -> Iterator[npt.NDArray[np.uint8]]:
    """The keys that are listed after the load (n x 17 bytes), a slice at a time: what the front must hold."""
    for rows in _change_slices(paths):
        yield np.ascontiguousarray(rows[rows[:, 0] == LISTED, 1:])


def build_buckets(task: _BuildTask, stored: StoredRecords | None = None) -> _Built:
    """Decide the rows of the task's buckets and write their records into SST files of their own (runs in a
    builder); with `stored`, merged with the records the store holds."""
    writer = SstWriter(task.directory, prefix=f"records-{task.number:02d}")
    counts = FeedCounts()
    result = ApplyResult()
    changes_path = task.directory / f"changes-{task.number:02d}.bin"
    changed = listed = new_listed = 0
    with changes_path.open("wb") as changes_file:
        for bucket in task.buckets:
            decided, ordered = decide_bucket(task.feed.directory, bucket, task.feed.writers)
            remove_bucket(task.feed.directory, bucket, task.feed.writers)
            counts.merge(decided)
            changes, new = _build_bucket(ordered, task.source, writer, result, stored)
            changes_file.write(changes.tobytes())
            changed += len(changes)
            listed += int(np.count_nonzero(changes[:, 0] == LISTED))
            new_listed += new
    return _Built(counts, result, writer.finish(), changes_path, changed, listed, new_listed)


def _build_bucket(ordered: OrderedRows, source: str, writer: SstWriter, result: ApplyResult,
                  stored: StoredRecords | None) -> tuple[npt.NDArray[np.uint8], int]:
    """Put one bucket's changed records (its applied rows in key order) into `writer`; return its changelog rows
    (n x CHANGE_ROW: LISTED or UNLISTED, then the key) and how many keys it lists that were not stored before.

    Most keys are new and only added to: their records are the prefix and the rows' tails (_new_records), put a
    run at a time; keys whose rows only end a listing are counted at once; the others are decided one by one
    between those runs."""
    rows = ordered.rows
    count = len(rows)
    if count == 0:
        return np.zeros((0, CHANGE_ROW), dtype=np.uint8), 0
    keys = rows["key"]
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    sizes = np.diff(np.concatenate((starts, [count])))
    actions = rows["action"]
    key_list = spooled_keys(keys[starts])
    before: list[Record | None] = stored(key_list) if stored is not None else [None] * len(key_list)
    new = np.array([record is None for record in before], dtype=np.bool_)
    adds = actions == ADD
    # Only adds (of distinct categories: one applied row per category) by one source to a key not stored: the
    # record holds them all, sorted by category (the tail's first byte), each counted as added.
    direct = new & np.logical_and.reduceat(adds, starts)
    # Only removes (and expired adds, which end a listing) of a key not stored: each finds nothing, no record.
    nothing = new & ~np.logical_or.reduceat(adds, starts)
    result.not_listed += int(sizes[nothing].sum())
    starts_list = starts.tolist()
    actions_list = actions.tolist()
    categories = rows["category"].tolist()
    offsets = ordered.offsets.tolist()
    tails = ordered.tails
    direct_places = np.flatnonzero(direct)
    direct_keys = [key_list[place] for place in direct_places.tolist()]
    direct_values = _new_records(ordered, source, starts[direct_places], sizes[direct_places])
    state = np.full(len(key_list), NO_CHANGE, dtype=np.uint8)
    state[direct] = LISTED
    put = writer.put
    new_listed = len(direct_keys)
    others = np.flatnonzero(~direct & ~nothing)
    taken = 0  # direct records put
    # The direct records go in runs, between the other keys', which are decided one by one (keys ascend).
    for index, direct_before in zip([*others.tolist(), len(key_list)],
                                    [*np.searchsorted(direct_places, others).tolist(), len(direct_keys)],
                                    strict=True):
        writer.put_many(direct_keys[taken:direct_before], direct_values[taken:direct_before])
        taken = direct_before
        if index == len(key_list):
            break
        key = key_list[index]
        head = starts_list[index]
        members = range(head, head + int(sizes[index]))
        stored_record = before[index]
        steps = [(actions_list[member], categories[member], tails[offsets[member] : offsets[member + 1]])
                 for member in members]
        was = stored_record or ()
        record = _apply_rows(key, source, was, steps, result)
        if record == was:
            continue
        if record:
            put(key, encode_record(record))
            state[index] = LISTED
            new_listed += stored_record is None
        else:
            writer.delete(key)
            state[index] = UNLISTED
    result.added += int(sizes[direct].sum())  # each add into a key not stored: added, as apply_all_counted says
    changed = state != NO_CHANGE
    changes = np.empty((int(np.count_nonzero(changed)), CHANGE_ROW), dtype=np.uint8)
    changes[:, 0] = state[changed]
    changes[:, 1:] = np.ascontiguousarray(keys[starts][changed]).view(np.uint8).reshape(-1, KEY_SIZE)
    return changes, new_listed


def _new_records(ordered: OrderedRows, source: str, heads: npt.NDArray[np.int64],
                 sizes: npt.NDArray[np.int64]) -> list[bytes]:
    """The records of keys not stored whose rows (`sizes[i]` from row `heads[i]`) are all adds of one source:
    the record prefix, then per contribution the source and its tail, sorted by category (the tail's first byte).
    Most keys have one row: theirs are made in one pass, the others one by one."""
    single = record_prefix(source, 1)
    part = single[3:]  # source length and source: what precedes each tail
    tails, offsets = ordered.tails, ordered.offsets
    alone = sizes == 1
    records = np.empty(len(heads), dtype=object)  # object: bytes kept whole (an "S" array drops trailing zeros)
    ones = heads[alone]
    records[alone] = [single + tails[first:last]
                      for first, last in zip(offsets[ones].tolist(), offsets[ones + 1].tolist(), strict=True)]
    bounds = offsets.tolist()
    records[~alone] = [
        record_prefix(source, count)[:3]
        + b"".join(part + piece for piece in sorted(tails[bounds[row] : bounds[row + 1]]
                                                    for row in range(head, head + count)))
        for head, count in zip(heads[~alone].tolist(), sizes[~alone].tolist(), strict=True)]
    values: list[bytes] = records.tolist()
    return values


def _apply_rows(key: bytes, source: str, before: Record, steps: list[tuple[int, int, bytes]],
                counts: MutationCounts) -> Record:
    """The record of a key after its rows (action, category, tail) in feed order, counted as one write by
    the store's rule (risklist_server.core.mutation.apply_all_counted); an expired add is a removal."""
    mutations: list[Mutation] = []
    for action, category, tail in steps:
        if action == ADD:
            mutations.append(Upsert(key, contribution_from_tail(source, tail)))
        else:
            mutations.append(Removal(key, source, Category(category) if category else None))
    return apply_all_counted(before, mutations, counts)
