"""Snapshot seen-marks: which (subject, category) pairs a source's snapshot feed has upserted so far.

A mark is the bit set of categories (2 bytes, little-endian) under the source, a zero byte and the
key, in the snapshot_seen column family; sweeping removes the source's contributions left unmarked.
"""

from __future__ import annotations

from collections.abc import Iterator

from rocksdict import Rdict, WriteBatch

from risklist_kernel.enums import Category
from risklist_server.core.mutation import without_source_except
from risklist_server.core.record import Record, decode_record
from risklist_server.store.rocks import SNAPSHOT_CF, get_one, iter_items, multi_get


def _prefix(source: str) -> bytes:
    return source.encode() + b"\x00"


class SnapshotMarks:
    """Reads and stages writes of seen-marks; the writer holds its lock around read-stage-write."""

    def __init__(self, db: Rdict) -> None:
        self._table = db.get_column_family(SNAPSHOT_CF)
        self._handle = db.get_column_family_handle(SNAPSHOT_CF)

    def stage_forget(self, batch: WriteBatch, source: str) -> None:
        """Put the deletion of every mark of `source` into `batch`."""
        prefix = _prefix(source)
        batch.delete_range(prefix, prefix[:-1] + b"\x01", self._handle)

    def stage_seen(self, batch: WriteBatch, source: str, seen: dict[bytes, int]) -> None:
        """Put `seen` (category bits by key) into `batch`, merged with the marks already stored."""
        prefix = _prefix(source)
        mark_keys = [prefix + key for key in seen]
        for mark_key, old, bits in zip(mark_keys, multi_get(self._table, mark_keys), seen.values(), strict=True):
            merged = bits | (0 if old is None else int.from_bytes(old, "little"))
            batch.put(mark_key, merged.to_bytes(2, "little"), self._handle)

    def seen_categories(self, source: str, keys: list[bytes]) -> list[frozenset[Category]]:
        """The categories of `source` marked seen at each of `keys`."""
        prefix = _prefix(source)
        marks = multi_get(self._table, [prefix + key for key in keys])
        bits = [0 if mark is None else int.from_bytes(mark, "little") for mark in marks]
        return [frozenset(c for c in Category if seen >> c & 1) for seen in bits]

    def sweep(self, records: Rdict, source: str, keys: list[bytes]) -> tuple[dict[bytes, Record], int]:
        """Re-read `keys` (the writer holds its lock): the records that lose unseen contributions of
        `source`, and how many they lose."""
        after: dict[bytes, Record] = {}
        swept = 0
        for key, kept in zip(keys, self.seen_categories(source, keys), strict=True):
            data = get_one(records, key)
            record = () if data is None else decode_record(data)
            updated = without_source_except(record, source, kept)
            if updated != record:
                swept += len(record) - len(updated)
                after[key] = updated
        return after, swept

    def close(self) -> None:
        self._table.close()
        del self._table, self._handle


def keys_holding(records: Rdict, source: str, chunk: int) -> Iterator[list[bytes]]:
    """Keys whose stored record may hold a contribution of `source`, `chunk` at a time, in key order.

    A byte search of the encoded record: it may yield a key that only mentions the source elsewhere
    (the sweep re-reads and decides), never misses one.
    """
    encoded_source = source.encode()
    pending: list[bytes] = []
    for key, value in iter_items(records):
        if encoded_source in value:
            pending.append(key)
        if len(pending) >= chunk:
            yield pending
            pending = []
    if pending:
        yield pending
