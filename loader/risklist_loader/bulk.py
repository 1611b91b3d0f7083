"""The bulk path of --db: a validated feed into an EMPTY store as sorted SST files, ingested at once.

Records are built from the spools' applied rows in storage-key order (risklist_loader.feed_order): a
key with one add row gets the record header, the source and that row's spooled tail; a key with
several rows gets its mutations applied in feed order and counted as one write, as the batch path
would. Then risklist_server.store.bulk writes the changelog entries, the front and the files
(RiskStore.bulk_ingest says why in that order).
"""

from __future__ import annotations

import mmap
import multiprocessing
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import structlog

from risklist_kernel.digest import KEY_SIZE
from risklist_kernel.enums import Category
from risklist_loader.parallel import ignore_interrupts
from risklist_loader.spool import ADD, tail_path
from risklist_server.core.mutation import Mutation, MutationCounts, Removal, Upsert, apply_all_counted
from risklist_server.core.record import Record, contribution_from_tail, encode_record, record_prefix
from risklist_server.store.apply import ApplyResult
from risklist_server.store.bulk import SstWriter, build_front, bulk_dir, changelog_values, remove_bulk_dirs
from risklist_server.store.reads import MIN_FRONT_CAPACITY
from risklist_server.store.risk_store import RiskStore

log = structlog.get_logger("risklist.loader")

BULK_MIN_ROWS = 100_000
"""Default smallest feed (accepted rows) that takes the bulk path into an empty store."""

_SLICE = 262_144
PARALLEL_BUILD_MIN = 1_000_000
"""Subjects from which records are built by one process per core."""


@dataclass(slots=True)
class Spooled:
    """Pass 1's output as columns: every accepted row in feed order, its key order, the rows left out."""

    paths: list[Path]
    entries: npt.NDArray[np.void]
    order: npt.NDArray[np.unsignedinteger[Any]] | npt.NDArray[np.signedinteger[Any]]
    """Row positions by (storage key, line), as risklist_loader.feed_order.FeedOrder.order."""
    skip: npt.NDArray[np.bool_]
    """Per row: not applied (repeated, or superseded by a later row)."""

    def release(self) -> None:
        """Drop the columns (the bulk path saves what it needs first), to keep memory down."""
        self.entries = np.zeros(0, dtype=self.entries.dtype)
        self.order = np.zeros(0, dtype=np.int64)
        self.skip = np.zeros(0, dtype=np.bool_)


def bulk_into_empty(store: RiskStore, source: str, spooled: Spooled) -> ApplyResult:
    """Build and ingest every record of the feed; the store must hold no record yet."""
    started = time.monotonic()
    remove_bulk_dirs(store.path)
    try:
        directory = bulk_dir(store.path, str(time.time_ns()))
        work = spooled.paths[0].parent / "bulk-plan" if spooled.paths else directory
        groups, group_keys = _plan(spooled, work)
        parts = _parts(groups)
        if groups == 0:
            built = []
        elif len(parts) == 1:
            built = [build_range(work, source, directory, 0, *parts[0])]
        else:
            with multiprocessing.get_context("spawn").Pool(len(parts), ignore_interrupts) as pool:
                built = pool.starmap(build_range, [(work, source, directory, number, first, last)
                                                   for number, (first, last) in enumerate(parts)])
        result = ApplyResult()
        listed = np.ones(groups, dtype=np.bool_)
        paths: list[Path] = []
        for part in built:
            result.merge(part.result)
            listed[part.unlisted] = False
            paths.extend(part.paths)
        keys = group_keys[listed]
        capacity = max(MIN_FRONT_CAPACITY, 2 * len(keys))
        front = build_front(keys, capacity, store.front_policy.bits_per_key)
        log.info("bulk_built", records=len(keys), files=len(paths), seconds=round(time.monotonic() - started, 3))
        store.bulk_ingest(paths, changelog_values(keys), front)
        log.info("bulk_ingested", records=len(keys), list_version=store.version)
    finally:
        remove_bulk_dirs(store.path)  # also when a full disk stopped the build: no scratch left behind
    return result


@dataclass(frozen=True, slots=True)
class _Built:
    """One builder's share: its counts, the groups left without a record, and its SST files."""

    result: ApplyResult
    unlisted: list[int]
    paths: list[Path]


def _parts(groups: int) -> list[tuple[int, int]]:
    """Contiguous group ranges, one per builder process (one when the feed is small)."""
    count = max(1, min(os.cpu_count() or 1, 8)) if groups >= PARALLEL_BUILD_MIN else 1
    bounds = [groups * number // count for number in range(count + 1)]
    return [(bounds[number], bounds[number + 1]) for number in range(count)]


def _plan(spooled: Spooled, work: Path) -> tuple[int, npt.NDArray[np.uint8]]:
    """Save the groups (rows of one key, in key order) for the builders; return their count and keys."""
    work.mkdir(exist_ok=True)
    entries = spooled.entries
    order = spooled.order
    keep = order[~spooled.skip[order]]
    offsets = np.zeros(len(entries) + 1, dtype=np.int64)
    np.cumsum(entries["tail"], out=offsets[1:])
    sorted_keys = entries["key"][keep]  # fixed-width bytes: != compares all 17 bytes exactly
    starts = np.flatnonzero(np.concatenate(([True], sorted_keys[1:] != sorted_keys[:-1])))
    group_keys = np.ascontiguousarray(sorted_keys[starts]).view(np.uint8).reshape(-1, KEY_SIZE)
    del sorted_keys
    sizes = np.diff(np.concatenate((starts, [len(keep)]))).astype(np.uint32)
    starts = starts.astype(keep.dtype)
    arrays = {"keep": keep, "starts": starts, "sizes": sizes, "offsets": offsets, "keys": group_keys,
              "actions": np.ascontiguousarray(entries["action"]),
              "categories": np.ascontiguousarray(entries["category"])}
    for name, array in arrays.items():
        np.save(work / f"{name}.npy", array)
    with (work / "tails.bin").open("wb") as joined:
        for path in spooled.paths:
            with tail_path(path).open("rb") as part:
                shutil.copyfileobj(part, joined, 1 << 22)
    spooled.release()
    return len(starts), group_keys


def build_range(work: Path, source: str, directory: Path, number: int, first: int, last: int) -> _Built:
    """Write the records of groups [first, last) into SST files of their own (runs in a builder)."""
    load = {name: np.load(work / f"{name}.npy", mmap_mode="r")
            for name in ("keep", "starts", "sizes", "offsets", "keys", "actions", "categories")}
    writer = SstWriter(directory, prefix=f"records-{number:02d}")
    result = ApplyResult()
    unlisted: list[int] = []
    single = record_prefix(source, 1)
    part = single[3:]  # source length and source: what precedes each tail
    put = writer.put
    with (work / "tails.bin").open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        tails: bytes | mmap.mmap = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
    for begin in range(first, last, _SLICE):
        end = min(begin + _SLICE, last)
        # Plain arrays and lists for this slice: per-element access to memory maps is slow.
        starts = np.array(load["starts"][begin:end], dtype=np.int64)
        sizes = np.array(load["sizes"][begin:end], dtype=np.int64)
        low = int(starts[0])
        rows = np.array(load["keep"][low : int(starts[-1] + sizes[-1])], dtype=np.int64)
        starts -= low
        actions = np.asarray(load["actions"][rows])
        row_offsets = np.asarray(load["offsets"][rows]).tolist()
        row_ends = np.asarray(load["offsets"][rows + 1]).tolist()
        simple = ((sizes == 1) & (actions[starts] == ADD)).tolist()
        starts_list = starts.tolist()
        key_bytes = np.asarray(load["keys"][begin:end]).tobytes()
        for index, is_simple in enumerate(simple):
            key = key_bytes[index * KEY_SIZE : (index + 1) * KEY_SIZE]
            head = starts_list[index]
            if is_simple:
                put(key, single + tails[row_offsets[head] : row_ends[head]])
                continue
            members = range(head, head + int(sizes[index]))
            if not any(actions[member] == ADD for member in members):
                # Only removes (and expired adds, which end a listing) into an empty store: each finds nothing.
                result.not_listed += len(members)
                unlisted.append(begin + index)
                continue
            if all(actions[member] == ADD for member in members):
                # Adds of distinct categories (one applied row per category) by one source into an empty
                # store: the record holds them all, sorted by category, the tail's first byte.
                # Each changes the record, so apply_all_counted would count each as added.
                pieces = sorted(tails[row_offsets[member] : row_ends[member]] for member in members)
                put(key, record_prefix(source, len(pieces))[:3] + b"".join(part + piece for piece in pieces))
                result.added += len(pieces)
                continue
            steps = [(int(actions[member]), int(load["categories"][rows[member]]),
                      tails[row_offsets[member] : row_ends[member]]) for member in members]
            record = _apply_rows(key, source, steps, result)
            if record:
                put(key, encode_record(record))
            else:
                unlisted.append(begin + index)
        result.added += int(np.count_nonzero(simple))  # one add into an empty record: added, as apply_counted says
    return _Built(result, unlisted, writer.finish())


def _apply_rows(key: bytes, source: str, steps: list[tuple[int, int, bytes]], counts: MutationCounts) -> Record:
    """The record of a new key after its rows (action, category, tail) in feed order, counted as one write by
    the store's rule (risklist_server.core.mutation.apply_all_counted); an expired add is a removal."""
    mutations: list[Mutation] = []
    for action, category, tail in steps:
        if action == ADD:
            mutations.append(Upsert(key, contribution_from_tail(source, tail)))
        else:
            mutations.append(Removal(key, source, Category(category) if category else None))
    return apply_all_counted((), mutations, counts)
