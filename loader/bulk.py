"""The bulk path of --db: a validated feed into an EMPTY store as sorted SST files, ingested at once.

Records are built from the spools in storage-key order (loader.dedupe): a key with one add row
gets the record header, the source and that row's spooled tail; a key with several rows gets its
mutations applied in feed order, as the batch path would. Then server.store.bulk writes the
changelog entries, the front and the files (RiskStore.bulk_ingest says why in that order).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import structlog

from loader.dedupe import KeyOrder
from loader.spool import ADD, contribution_from_tail, record_prefix, tail_path
from server.core.digest import KEY_SIZE
from server.core.enums import Category
from server.core.mutation import Mutation, Removal, Upsert, apply_mutation
from server.core.record import Record, encode_record
from server.store.bulk import SstWriter, build_front, bulk_dir, changelog_values, remove_bulk_dirs
from server.store.reads import MIN_FRONT_CAPACITY
from server.store.risk_store import ApplyResult, RiskStore

log = structlog.get_logger("risklist.loader")

BULK_MIN_ROWS = 100_000
"""Default smallest feed (accepted rows) that takes the bulk path into an empty store."""

_SLICE = 262_144


@dataclass(frozen=True, slots=True)
class Spooled:
    """Pass 1's output as columns: every accepted row in feed order, and its key order."""

    paths: list[Path]
    entries: npt.NDArray[np.void]
    key_order: KeyOrder


def bulk_into_empty(store: RiskStore, source: str, spooled: Spooled) -> ApplyResult:
    """Build and ingest every record of the feed; the store must hold no record yet."""
    started = time.monotonic()
    remove_bulk_dirs(store.path)
    directory = bulk_dir(store.path, str(time.time_ns()))
    writer = SstWriter(directory)
    result, listed = _write_records(writer, source, spooled)
    paths = writer.finish()
    capacity = max(MIN_FRONT_CAPACITY, 2 * len(listed))
    front = build_front(listed, capacity, store.front_policy.bits_per_key)
    log.info("bulk_built", records=len(listed), files=len(paths), seconds=round(time.monotonic() - started, 3))
    store.bulk_ingest(paths, changelog_values(listed), front)
    log.info("bulk_ingested", records=len(listed), list_version=store.version)
    remove_bulk_dirs(store.path)
    return result


def _write_records(writer: SstWriter, source: str, spooled: Spooled) -> tuple[ApplyResult, npt.NDArray[np.uint8]]:
    """Put every key's record into `writer` in key order; return the counts and the listed keys."""
    entries = spooled.entries
    order = spooled.key_order.order
    keep = order[spooled.key_order.duplicate_of[order] == 0]
    tails = b"".join(tail_path(path).read_bytes() for path in spooled.paths)
    offsets = np.zeros(len(entries) + 1, dtype=np.int64)
    np.cumsum(entries["tail"], out=offsets[1:])
    sorted_keys = entries["key"][keep]  # fixed-width bytes: != compares all 17 bytes exactly
    starts = np.flatnonzero(np.concatenate(([True], sorted_keys[1:] != sorted_keys[:-1])))
    sizes = np.diff(np.concatenate((starts, [len(keep)])))
    group_keys = np.ascontiguousarray(sorted_keys[starts]).view(np.uint8).reshape(-1, KEY_SIZE)
    del sorted_keys
    listed = np.ones(len(starts), dtype=np.bool_)
    result = ApplyResult()
    single = record_prefix(source, 1)
    part = record_prefix(source, 1)[3:]  # source length and source: what precedes each tail
    put = writer.put
    actions = entries["action"]
    for first in range(0, len(starts), _SLICE):
        last = min(first + _SLICE, len(starts))
        key_bytes = group_keys[first:last].tobytes()
        heads = keep[starts[first:last]]
        group_sizes = sizes[first:last]
        simple = ((group_sizes == 1) & (actions[heads] == ADD)).tolist()
        head_offsets = offsets[heads].tolist()
        head_ends = offsets[heads + 1].tolist()
        for index, is_simple in enumerate(simple):
            key = key_bytes[index * KEY_SIZE : (index + 1) * KEY_SIZE]
            if is_simple:
                put(key, single + tails[head_offsets[index] : head_ends[index]])
                continue
            group = first + index
            rows = keep[starts[group] : starts[group] + sizes[group]]
            if bool(np.all(actions[rows] == ADD)):
                # Adds of distinct categories (duplicates are gone) by one source into an empty
                # store: the record holds them all, sorted by category, the tail's first byte.
                pieces = sorted(tails[int(offsets[row]) : int(offsets[row + 1])] for row in rows.tolist())
                put(key, record_prefix(source, len(pieces))[:3] + b"".join(part + piece for piece in pieces))
                result.added += len(pieces)
                continue
            record = _apply_rows(key, source, entries, rows, offsets, tails, result)
            if record:
                put(key, encode_record(record))
            else:
                listed[group] = False
        result.added += int(np.count_nonzero(simple))
    return result, group_keys[listed]


def _apply_rows(key: bytes, source: str, entries: npt.NDArray[np.void], rows: npt.NDArray[np.int64],
                offsets: npt.NDArray[np.int64], tails: bytes, result: ApplyResult) -> Record:
    """The record of a new key after its rows, in feed order, counted as the batch path counts."""
    record: Record = ()
    for position in rows.tolist():
        mutation: Mutation
        if int(entries["action"][position]) == ADD:
            tail = tails[int(offsets[position]) : int(offsets[position + 1])]
            mutation = Upsert(key, contribution_from_tail(source, tail))
        else:
            category = int(entries["category"][position])
            mutation = Removal(key, source, Category(category) if category else None)
        updated = apply_mutation(record, mutation)
        if isinstance(mutation, Upsert):
            if updated == record:
                result.unchanged += 1
            else:
                result.added += 1
        else:
            removed = len(record) - len(updated)
            result.removed += removed
            result.not_listed += removed == 0
        record = updated
    return record
