"""The expiry purge: finding records with expired contributions, slice by slice, and what purging leaves."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rocksdict import Rdict

from risklist_server.core.expiry import without_expired
from risklist_server.core.record import Record, decode_record, holds_expired
from risklist_server.store.rocks import iter_items, multi_get

YIELD_EVERY = 256
"""Records a slice scans between hand-overs of the interpreter (about a quarter of a millisecond of work)."""


@dataclass(frozen=True, slots=True)
class ExpirySlice:
    """One slice of the expiry sweep: records read, contributions purged, where the next slice starts."""

    scanned: int
    purged: int
    next_key: bytes | None
    """None: the slice reached the end of the records (a cycle is complete)."""


@dataclass(frozen=True, slots=True)
class ExpiryScan:
    """The keys of one slice holding an expired contribution (read without the write lock)."""

    expired: list[bytes]
    scanned: int
    next_key: bytes | None


def scan_expired(records: Rdict, start: bytes | None, limit: int, now: int) -> ExpiryScan:
    """Read up to `limit` records from key `start` on; note which hold a contribution expired at `now`."""
    expired: list[bytes] = []
    scanned = 0
    next_key: bytes | None = None
    for key, value in iter_items(records, start):
        if scanned == limit:
            next_key = key
            break
        scanned += 1
        if not scanned % YIELD_EVERY:
            time.sleep(0)  # hand the interpreter to the calls this process serves: the sweep is background work
        if holds_expired(value, now):
            expired.append(key)
    return ExpiryScan(expired, scanned, next_key)


def purge_expired(records: Rdict, keys: list[bytes], now: int) -> tuple[dict[bytes, Record], int]:
    """Re-read `keys` (the writer holds its lock): the records that lose contributions, and how many they lose."""
    after: dict[bytes, Record] = {}
    purged = 0
    for key, data in zip(keys, multi_get(records, keys), strict=True):
        record = () if data is None else decode_record(data)
        kept = without_expired(record, now)
        if kept != record:
            purged += len(record) - len(kept)
            after[key] = kept
    return after, purged
