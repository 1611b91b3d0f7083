"""A bulk merge in flight: a mark in `meta` from before its files are ingested until its last changelog entry.

A merge into a filled store ingests its records first and writes their changelog entries after (the
other order would let partners drop keys still listed, were it cut short). A kill -9 between the
two leaves records changed without the entries partners update their filters from; a re-run finds
them changed already and writes none. So the mark makes the next open start new versions after a
gap (as a restore does, risklist_server.store.restore.VERSION_GAP): every partner's next update is a
reset to the store's true content.
"""

from __future__ import annotations

from rocksdict import Rdict, WriteOptions

from risklist_server.store.rocks import get_one

MERGE_MARK_KEY = b"bulk_merge_pending"


def _synced() -> WriteOptions:
    options = WriteOptions()
    options.sync = True
    return options


def set_merge_mark(meta: Rdict, sequence: int) -> None:
    """Record, on disk, that a merge starting after list version `sequence` is in flight."""
    meta.put(MERGE_MARK_KEY, str(sequence).encode("ascii"), write_opt=_synced())


def clear_merge_mark(meta: Rdict) -> None:
    meta.delete(MERGE_MARK_KEY, write_opt=_synced())


def merge_in_flight(meta: Rdict) -> bool:
    """Whether a merge was cut short between its ingestion and its last changelog entry."""
    return get_one(meta, MERGE_MARK_KEY) is not None
