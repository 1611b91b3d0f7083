"""The risk store: records in RocksDB, every write mirrored in the changelog and the Bloom front."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rocksdict import IngestExternalFileOptions, WriteBatch, WriteOptions

from risklist_kernel.enums import Category
from risklist_server.core.errors import StoreError
from risklist_server.core.expiry import has_expired, without_expired
from risklist_server.core.mutation import Mutation, Upsert, apply_mutation, without_source_except
from risklist_server.core.outcome import Outcome, credited_sources, record_outcome
from risklist_server.core.record import Record, decode_record, encode_record
from risklist_server.store.changelog import Change, encode_changes, sequence_key
from risklist_server.store.front import BloomFront
from risklist_server.store.front_file import save_front
from risklist_server.store.reads import DEFAULT_FRONT_POLICY, FRONT_FILE, FrontPolicy, StoreReads
from risklist_server.store.rocks import (
    CHANGELOG_CF,
    DEFAULT_BLOCK_CACHE_BYTES,
    META_CF,
    SECRET_FINGERPRINT_KEY,
    SNAPSHOT_CF,
    get_one,
    iter_items,
    iter_keys,
    multi_get,
    open_rocks,
)

_SYNCED = WriteOptions()
_SYNCED.sync = True
"""Write options for acknowledged partner calls: the WAL is synced before the write returns."""


@dataclass(slots=True)
class ApplyResult:
    """What one or more applied batches did, row by row."""

    added: int = 0
    unchanged: int = 0
    removed: int = 0
    not_listed: int = 0
    swept: int = 0
    version: int = 0
    """The list version just after the write (0 until something was applied)."""

    def merge(self, other: ApplyResult) -> None:
        self.added += other.added
        self.unchanged += other.unchanged
        self.removed += other.removed
        self.not_listed += other.not_listed
        self.swept += other.swept
        self.version = max(self.version, other.version)


@dataclass(frozen=True, slots=True)
class ExpirySlice:
    """One slice of the expiry sweep: records read, contributions purged, where the next slice starts."""

    scanned: int
    purged: int
    next_key: bytes | None
    """None: the slice reached the end of the records (a cycle is complete)."""


Revision = Callable[[Mapping[bytes, Record]], Sequence[Mutation]]
"""Run under the write lock with the records before a write (by key): returns the mutations to apply
instead (for the same keys), or raises to refuse the whole write."""


class RiskStore(StoreReads):
    """The single writer's view of the store; lookups may run on any thread meanwhile."""

    def __init__(
        self,
        path: str | Path,
        *,
        secret_fingerprint: str,
        front_policy: FrontPolicy = DEFAULT_FRONT_POLICY,
        block_cache_bytes: int = DEFAULT_BLOCK_CACHE_BYTES,
    ) -> None:
        self._attach(path, front_policy, open_rocks(str(path), block_cache_bytes))
        self._snapshot_seen = self._db.get_column_family(SNAPSHOT_CF)
        self._changelog_handle = self._db.get_column_family_handle(CHANGELOG_CF)
        self._meta_handle = self._db.get_column_family_handle(META_CF)
        self._snapshot_handle = self._db.get_column_family_handle(SNAPSHOT_CF)
        self._write_lock = threading.Lock()
        self._closed = False
        try:
            self._check_secret(secret_fingerprint)
            self._sequence = self._last_sequence()
            self.front = self._open_front()
        except BaseException:
            self._release()
            raise

    # ---- writes (single writer) --------------------------------------------------------

    def apply(
        self,
        mutations: Sequence[Mutation],
        *,
        snapshot_source: str | None = None,
        sync: bool = False,
        revise: Revision | None = None,
    ) -> ApplyResult:
        """Apply `mutations` in order as one atomic write with one changelog entry.

        With `snapshot_source`, the source's upserted (key, category) pairs are also marked as
        seen, so sweep_snapshot can remove what the snapshot feed no longer holds. With `sync`,
        return only once the write-ahead log is on disk (a partner's acknowledged write survives
        a crash). `revise` sees the records before the write and decides the final mutations; if
        it raises, nothing is written.
        """
        result = ApplyResult()
        with self._write_lock:
            self._ensure_open()
            keys = list(dict.fromkeys(mutation.key for mutation in mutations))
            stored = multi_get(self._db, keys)
            before = {
                key: (() if data is None else decode_record(data))
                for key, data in zip(keys, stored, strict=True)
            }
            if revise is not None:
                mutations = revise(before)
            after = dict(before)
            seen: dict[bytes, int] = {}
            for mutation in mutations:
                current = after[mutation.key]
                updated = apply_mutation(current, mutation)
                if isinstance(mutation, Upsert):
                    if updated == current:
                        result.unchanged += 1
                    else:
                        result.added += 1
                    if snapshot_source is not None:
                        seen[mutation.key] = seen.get(mutation.key, 0) | 1 << mutation.contribution.category
                else:
                    removed = len(current) - len(updated)
                    result.removed += removed
                    result.not_listed += removed == 0
                after[mutation.key] = updated
            batch = WriteBatch(raw_mode=True)
            if snapshot_source is not None and seen:
                self._mark_seen(batch, snapshot_source, seen)
            changes = [Change(key, bool(after[key])) for key in keys if after[key] != before[key]]
            self._write(batch, changes, after, sync=sync)
            result.version = self._sequence
        return result

    def purge_expired(self, start: bytes | None, limit: int, now: int) -> ExpirySlice:
        """Purge contributions expired at `now` from up to `limit` records from key `start` on.

        Reads without the write lock, then re-reads the expired records under it, so a write in
        between is never lost. The purge is one write with its changelog entry (UNLISTED where a
        record empties), so fronts and replicas follow.
        """
        expired: list[bytes] = []
        scanned = 0
        next_key: bytes | None = None
        for key, value in iter_items(self._db, start):
            if scanned == limit:
                next_key = key
                break
            scanned += 1
            if has_expired(decode_record(value), now):
                expired.append(key)
        if not expired:
            return ExpirySlice(scanned, 0, next_key)
        with self._write_lock:
            self._ensure_open()
            after: dict[bytes, Record] = {}
            purged = 0
            for key, data in zip(expired, multi_get(self._db, expired), strict=True):
                record = () if data is None else decode_record(data)
                kept = without_expired(record, now)
                if kept != record:
                    purged += len(record) - len(kept)
                    after[key] = kept
            self._write(WriteBatch(raw_mode=True), [Change(key, bool(after[key])) for key in after], after)
        return ExpirySlice(scanned, purged, next_key)
    def record_outcome(self, reporter: str, key: bytes, outcome: Outcome, now: int) -> int:
        """Store `reporter`'s outcome for subject `key`; return the sources credited.

        Durable when it returns (synced WAL). A partner grades a subject once: its first outcome
        credits the subject's live sources other than itself; a later one (for any answer) is a
        revision that moves their count to the new outcome.
        """
        with self._write_lock:
            self._ensure_open()
            previous = self._outcomes.entry(reporter, key)
            stored = get_one(self._db, key)
            record = () if stored is None else decode_record(stored)
            entry, changes = record_outcome(previous, credited_sources(record, reporter, now), outcome)
            batch = WriteBatch(raw_mode=True)
            self._outcomes.stage(batch, reporter, key, entry, changes)
            self._db.write(batch, _SYNCED)
            return len(entry.credited)

    def live_contributions_by_source(self, now: int) -> dict[str, int]:
        """How many live contributions each source has (a full scan: an operator's call)."""
        counts: dict[str, int] = {}
        for _, record in self.iter_records():
            for contribution in record:
                if contribution.is_live(now):
                    counts[contribution.source] = counts.get(contribution.source, 0) + 1
        return counts

    def has_records(self) -> bool:
        """Whether any subject is listed (a bulk build into an empty store needs no merging)."""
        with self._write_lock:
            self._ensure_open()
            return next(iter_keys(self._db), None) is not None

    def bulk_ingest(self, sst_paths: Sequence[Path], changes: Iterable[bytes], front: BloomFront) -> None:
        """Take many records at once: encoded changelog entries, sorted SST files, and a new front.

        `front` must hold every key listed after the ingestion. Order for a kill -9 at any point:
        the changelog entries first (a listed key without its record is only a false positive),
        then every file in one atomic ingestion (risklist_server.store.bulk builds them). The in-memory
        front is swapped before any of it, so no version is ever ahead of the front.
        """
        with self._write_lock:
            self._ensure_open()
            # The new front before the new versions: a view's version never covers a key its
            # front lacks (partner filter snapshots rely on it; risklist_server.store.filter_export).
            self.front = front
            for value in changes:
                batch = WriteBatch(raw_mode=True)
                batch.put(sequence_key(self._sequence + 1), value, self._changelog_handle)
                self._db.write(batch)
                self._sequence += 1
            if sst_paths:
                options = IngestExternalFileOptions()
                options.set_move_files(True)
                self._db.ingest_external_file([str(path) for path in sst_paths], options)

    def begin_snapshot(self, source: str) -> None:
        """Forget the seen-marks of an earlier (perhaps interrupted) snapshot of `source`."""
        with self._write_lock:
            self._ensure_open()
            prefix = _snapshot_prefix(source)
            batch = WriteBatch(raw_mode=True)
            batch.delete_range(prefix, prefix[:-1] + b"\x01", self._snapshot_handle)
            self._db.write(batch)

    def sweep_snapshot(self, source: str, chunk: int = 1000) -> int:
        """Remove the source's contributions not seen since begin_snapshot; return how many."""
        prefix = _snapshot_prefix(source)
        encoded_source = source.encode()
        swept = 0
        pending: list[tuple[bytes, Record]] = []
        for key, value in iter_items(self._db):
            if encoded_source in value:
                pending.append((key, decode_record(value)))
            if len(pending) >= chunk:
                swept += self._sweep_chunk(source, prefix, pending)
                pending = []
        if pending:
            swept += self._sweep_chunk(source, prefix, pending)
        self.begin_snapshot(source)
        return swept

    def _sweep_chunk(self, source: str, prefix: bytes, pending: list[tuple[bytes, Record]]) -> int:
        with self._write_lock:
            self._ensure_open()
            marks = multi_get(self._snapshot_seen, [prefix + key for key, _ in pending])
            swept = 0
            after: dict[bytes, Record] = {}
            for (key, _), mark in zip(pending, marks, strict=True):
                # Re-read under the lock: the record may have changed since the scan.
                data = get_one(self._db, key)
                record = () if data is None else decode_record(data)
                seen_bits = 0 if mark is None else int.from_bytes(mark, "little")
                kept = frozenset(c for c in Category if seen_bits >> c & 1)
                updated = without_source_except(record, source, kept)
                if updated != record:
                    swept += len(record) - len(updated)
                    after[key] = updated
            changes = [Change(key, bool(after[key])) for key in after]
            self._write(WriteBatch(raw_mode=True), changes, after)
            return swept

    def _mark_seen(self, batch: WriteBatch, source: str, seen: dict[bytes, int]) -> None:
        prefix = _snapshot_prefix(source)
        mark_keys = [prefix + key for key in seen]
        for mark_key, old, bits in zip(
            mark_keys, multi_get(self._snapshot_seen, mark_keys), seen.values(), strict=True
        ):
            merged = bits | (0 if old is None else int.from_bytes(old, "little"))
            batch.put(mark_key, merged.to_bytes(2, "little"), self._snapshot_handle)

    def _write(
        self, batch: WriteBatch, changes: list[Change], after: dict[bytes, Record], *, sync: bool = False
    ) -> None:
        """Front first, then records + changelog entry in one WriteBatch. Caller holds the lock."""
        if changes:
            for change in changes:
                if change.listed:
                    self.front.add(change.key)
                    batch.put(change.key, encode_record(after[change.key]))
                else:
                    batch.delete(change.key)
            batch.put(sequence_key(self._sequence + 1), encode_changes(changes), self._changelog_handle)
        if batch.is_empty():
            if sync:  # nothing new, but what made it so may not be on disk yet (an unsynced ingest)
                self._db.flush_wal(True)
            return
        if sync:
            self._db.write(batch, _SYNCED)
        else:
            self._db.write(batch)
        if changes:
            self._sequence += 1
            if self._front_overfull():
                self.front = self._rebuild_front()

    # ---- lifecycle ---------------------------------------------------------------------

    def persist_front(self) -> None:
        """Save the front with the sequence it covers, so a restart only catches up."""
        with self._write_lock:
            self._ensure_open()
            save_front(self.path / FRONT_FILE, self.front, self._sequence)

    def flush(self) -> None:
        """Flush memtables to SST files (after bulk loads)."""
        self._db.flush()

    def close(self) -> None:
        """Persist the front and close RocksDB; safe to call twice."""
        if self._closed:
            return
        self.persist_front()
        with self._write_lock:
            self._closed = True
            self._release()

    def _release(self) -> None:
        # Column-family views share the DB; every one must go before the LOCK file is freed.
        for view in (self._changelog, self._meta, self._snapshot_seen):
            view.close()
        self._outcomes.close()
        del self._changelog, self._meta, self._snapshot_seen, self._outcomes
        del self._changelog_handle, self._meta_handle, self._snapshot_handle
        self._db.close()

    def __enter__(self) -> RiskStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _ensure_open(self) -> None:
        if self._closed:
            raise StoreError(f"the store at {self.path} is closed")

    def _check_secret(self, fingerprint: str) -> None:
        self.secret_fingerprint = fingerprint
        stored = get_one(self._meta, SECRET_FINGERPRINT_KEY)
        if stored is None:
            if next(iter_keys(self._db), None) is not None:
                raise StoreError(f"the store at {self.path} has records but no secret fingerprint")
            self._meta.put(SECRET_FINGERPRINT_KEY, fingerprint.encode())
        elif stored.decode() != fingerprint:
            raise StoreError(
                f"the store at {self.path} was built with another network secret "
                f"(fingerprint {stored.decode()}, given {fingerprint}); use the secret it was "
                "built with, or build a new store"
            )


def _snapshot_prefix(source: str) -> bytes:
    return source.encode() + b"\x00"
