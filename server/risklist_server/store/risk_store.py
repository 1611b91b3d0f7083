from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import numpy.typing as npt
import structlog
from rocksdict import WriteBatch, WriteOptions

from risklist_kernel.bloom import words_for
from risklist_kernel.enums import Outcome
from risklist_server.core.backup_manifest import BackupManifest
from risklist_server.core.errors import BackupError, FrontFileRefused, StoreError
from risklist_server.core.mutation import Mutation
from risklist_server.core.record import Record, decode_record, encode_record
from risklist_server.store.apply import ApplyResult, Revision, apply_batch
from risklist_server.store.bulk import append_changelog, ingest_files
from risklist_server.store.changelog import Change, encode_changes, sequence_key
from risklist_server.store.changelog_trim import ChangelogTrim, ChangelogWindow, stage_trim, trim_point
from risklist_server.store.checkpoint import prepare_backup_dir, seal_backup, take_checkpoint
from risklist_server.store.expiry_purge import ExpirySlice, purge_expired, scan_expired
from risklist_server.store.front import BloomFront, front_words_for
from risklist_server.store.front_file import save_front_words
from risklist_server.store.front_map import MappedFront, file_stamp, map_front
from risklist_server.store.list_id import check_can_join, write_cluster_list_id
from risklist_server.store.log_position import LOG_POSITION_KEY, encode_log_position, read_log_position
from risklist_server.store.merge_mark import clear_merge_mark, merge_in_flight, set_merge_mark
from risklist_server.store.outcome_key import ensure_outcome_key, replace_outcome_key
from risklist_server.store.outcomes import live_contributions_by_source
from risklist_server.store.pause_point import pause_point
from risklist_server.store.reads import DEFAULT_FRONT_POLICY, FRONT_FILE, MIN_FRONT_CAPACITY, FrontPolicy, StoreReads
from risklist_server.store.restore import VERSION_GAP
from risklist_server.store.rocks import (
    CHANGELOG_CF,
    DEFAULT_BLOCK_CACHE_BYTES,
    META_CF,
    get_one,
    iter_keys,
    open_rocks,
)
from risklist_server.store.secret_check import check_writer_secret
from risklist_server.store.shared_front import SharedFront
from risklist_server.store.snapshot_marks import SnapshotMarks, keys_holding
from risklist_server.store.store_id import ensure_store_id

__all__ = ["RiskStore", "init_store"]

_SYNCED = WriteOptions()
_SYNCED.sync = True
"""Write options for acknowledged partner calls: the WAL is synced before the write returns."""


log = structlog.get_logger("risklist.store")


class RiskStore(StoreReads):
    """The single writer's view of the store; lookups may run on any thread meanwhile.

    It owns the RocksDB handle, the write lock, the front and the list version; each job is a
    collaborator it passes what it needs (risklist_server.store.apply, expiry_purge, snapshot_marks,
    outcomes, bulk, secret_check), and every record write goes through `_write`.
    """

    front: SharedFront

    def __init__(
        self,
        path: str | Path,
        *,
        secret_fingerprint: str,
        front_policy: FrontPolicy = DEFAULT_FRONT_POLICY,
        block_cache_bytes: int = DEFAULT_BLOCK_CACHE_BYTES,
        create: bool = False,
        accept_restored: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Open the store at `path`: a complete risklist store made with this secret, no older than its
        front file says (StoreError otherwise). `create`: make a new one if there is none (the loader,
        `risklist-admin init-store`; never the server). `accept_restored`: an operator restored an older
        copy on purpose; its front is rebuilt and saved, so the next open needs no flag."""
        self._attach(path, front_policy, open_rocks(str(path), block_cache_bytes, create=create))
        self._snapshot_marks = SnapshotMarks(self._db)
        self._changelog_handle = self._db.get_column_family_handle(CHANGELOG_CF)
        self._meta_handle = self._db.get_column_family_handle(META_CF)
        self._clock = clock
        self._untimed_through = 0
        """The last untimed (version 1) changelog entry a trim has read: later trims start after it."""
        self._write_lock = threading.Lock()
        self._publish_lock = threading.Lock()
        self._closed = False
        try:
            self.secret_fingerprint = secret_fingerprint
            check_writer_secret(self.path, self._db, self._meta, secret_fingerprint, create=create)
            self._outcome_key = ensure_outcome_key(self._meta)
            self._store_id = ensure_store_id(self._meta, self.path)
            self._sequence = self._last_sequence()
            self._log_position = read_log_position(self._meta)
            self._applying = threading.local()
            """The log entry the current thread applies (log_entry), if any: only its writes carry its position."""
            self._heal_interrupted_merge()
            self.front = self._open_front(restored=accept_restored)
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
        with self._write_lock:
            self._ensure_open()
            applied = apply_batch(self._db, mutations, revise=revise, track_upserts=snapshot_source is not None)
            batch = WriteBatch(raw_mode=True)
            if snapshot_source is not None and applied.upserted:
                self._snapshot_marks.stage_seen(batch, snapshot_source, applied.upserted)
            self._write(batch, applied.changes, applied.after, sync=sync)
            applied.result.version = self._sequence
        return applied.result

    @property
    def log_position(self) -> int:
        """The sequence of the last cluster log entry applied to this store (risklist_server.store.log_position)."""
        return self._log_position

    @contextmanager
    def log_entry(self, sequence: int) -> Iterator[None]:
        """Apply the cluster log's entry `sequence` inside: every write this thread makes meanwhile also records
        the position, atomically with its records; if none did, the position is written on leaving normally (an
        error leaving it leaves the position as it was). Sequences must ascend (ValueError otherwise: an entry
        applied twice or out of order)."""
        if sequence <= self._log_position:
            raise ValueError(f"log entry {sequence} is at or before the store's position {self._log_position}")
        self._applying.sequence = sequence
        try:
            yield
        finally:
            self._applying.sequence = None
        if self._log_position < sequence:
            with self._write_lock:
                self._ensure_open()
                batch = WriteBatch(raw_mode=True)
                batch.put(LOG_POSITION_KEY, encode_log_position(sequence), self._meta_handle)
                self._db.write(batch)
                self._log_position = sequence

    def _stage_log_position(self, batch: WriteBatch) -> int | None:
        """Put the log entry this thread applies (if any) into `batch`; its sequence, to note once written."""
        position: int | None = getattr(self._applying, "sequence", None)
        if position is not None:
            batch.put(LOG_POSITION_KEY, encode_log_position(position), self._meta_handle)
        return position

    def find_expired(self, start: bytes | None, limit: int, now: int) -> ExpirySlice:
        """What purge_expired(start, limit, now) would purge, without writing: `purged` counts the records holding
        an expired contribution (a cluster node's sweep asks before it logs a slice)."""
        scan = scan_expired(self._db, start, limit, now)
        return ExpirySlice(scan.scanned, len(scan.expired), scan.next_key)

    def purge_expired(self, start: bytes | None, limit: int, now: int) -> ExpirySlice:
        """Purge contributions expired at `now` from up to `limit` records from key `start` on.

        Reads without the write lock, then re-reads the expired records under it, so a write in
        between is never lost. The purge is one write with its changelog entry (UNLISTED where a
        record empties), so fronts and replicas follow.
        """
        scan = scan_expired(self._db, start, limit, now)
        if not scan.expired:
            return ExpirySlice(scan.scanned, 0, scan.next_key)
        with self._write_lock:
            self._ensure_open()
            after, purged = purge_expired(self._db, scan.expired, now)
            self._write(WriteBatch(raw_mode=True), [Change(key, bool(after[key])) for key in after], after)
        return ExpirySlice(scan.scanned, purged, scan.next_key)

    def trim_changelog(self, window: ChangelogWindow) -> ChangelogTrim:
        """Remove the changelog entries `window` lets go, moving the low-water mark with them in one write.

        Scans without the write lock (entries are only appended meanwhile), then trims under it. The
        front is published first whenever the published file covers less than the new mark (as
        persist_front does: writes wait only for the words' copy), so the reader workers (which never
        rebuild a front) and a restart (after a kill -9 too) still catch the file up from the changelog.
        """
        self._ensure_open()
        scan = trim_point(self._changelog, self._trimmed_through, self._sequence, window, int(self._clock()),
                          self._untimed_through)
        self._untimed_through, point = scan.untimed_through, scan.point
        with self._publish_lock:
            if point > self._trimmed_through and not self._published_through(point):
                self._persist_front()  # writes wait only for the words' copy
            with self._write_lock:
                self._ensure_open()
                after = self._trimmed_through
                if point <= after:
                    return ChangelogTrim(0, after)
                if not self._published_through(point):  # a rebuild replaced it meanwhile: publish here
                    self.front = self._publish(self.front, self._sequence)
                batch = WriteBatch(raw_mode=True)
                stage_trim(batch, self._changelog_handle, self._meta_handle, after, point)
                self._db.write(batch)
                self._trimmed_through = point
        return ChangelogTrim(point - after, point)

    def compact_changelog(self, through: int) -> None:
        """Compact the changelog up to sequence `through`, so the disk space of trimmed entries comes back now."""
        self._changelog.compact_range(None, sequence_key(through + 1))

    def changelog_bytes(self) -> int:
        """The changelog's size on disk (its SST files) and in memtables, in bytes."""
        sst = self._changelog.property_int_value("rocksdb.total-sst-files-size") or 0
        memtables = self._changelog.property_int_value("rocksdb.cur-size-all-mem-tables") or 0
        return sst + memtables

    def join_list(self, list_id: str) -> None:
        """Count the cluster list `list_id` (a node joining its cluster, before it applies the log); StoreError if
        this store may not (risklist_server.store.list_id)."""
        with self._write_lock:
            self._ensure_open()
            if check_can_join(self._cluster_list_id, list_id, version=self._sequence, log_position=self._log_position,
                              path=str(self.path)):
                write_cluster_list_id(self._meta, list_id)
                self._cluster_list_id = list_id
                log.info("cluster_list_joined")

    def adopt_outcome_key(self, key: bytes) -> bool:
        """Make `key` this store's outcome key (a cluster node's: the cluster's); True if it replaced another."""
        with self._write_lock:
            self._ensure_open()
            if key == self._outcome_key:
                return False
            replace_outcome_key(self._meta, key)
            self._outcome_key = key
        log.info("outcome_key_adopted")
        return True

    def record_outcome(self, reporter: str, key: bytes, outcome: Outcome, now: int) -> int:
        """Store `reporter`'s outcome for subject `key`; return the sources credited.

        Durable when it returns (synced WAL). A partner grades a subject once: its first outcome
        credits the subject's live sources other than itself; a later one (for any answer) is a
        revision that moves their count to the new outcome.
        """
        with self._write_lock:
            self._ensure_open()
            stored = get_one(self._db, key)
            record = () if stored is None else decode_record(stored)
            batch = WriteBatch(raw_mode=True)
            credited = self._outcomes.stage_outcome(batch, reporter, key, record, outcome, now)
            position = self._stage_log_position(batch)
            if position is None:
                self._db.write(batch, _SYNCED)
            else:  # applying the cluster's log, which holds it durable already (see _write)
                self._db.write(batch)
            if position is not None:
                self._log_position = position
            return credited

    def live_contributions_by_source(self, now: int) -> dict[str, int]:
        """How many live contributions each source has (a full scan: an operator's call)."""
        return live_contributions_by_source(self.iter_records(), now)

    def has_records(self) -> bool:
        """Whether any subject is listed (a bulk build into an empty store needs no merging)."""
        with self._write_lock:
            self._ensure_open()
            return next(iter_keys(self._db), None) is not None

    def bulk_ingest(self, sst_paths: Sequence[Path], changes: Iterable[bytes],
                    listed: Iterable[npt.NDArray[np.uint8]], listed_count: int) -> None:
        """Take many records at once into an empty store: sorted SST files, their encoded changelog entries, and
        the keys listed after it (slices of n x 17 bytes, `listed_count` in all), which the front must hold.

        Order for a kill -9 at any point: the changelog entries first (a listed key without its record is
        only a false positive), then every file in one atomic ingestion (risklist_server.store.bulk builds
        them). The front is built here, a slice at a time, and published before any of it, so no version is
        ever ahead of the front; its only copy in memory is dropped once published (the mapping serves).
        """
        with self._write_lock:
            self._ensure_open()
            front = BloomFront(words_for(max(MIN_FRONT_CAPACITY, 2 * listed_count), self.front_policy.bits_per_key),
                               added=listed_count)
            for keys in listed:
                front_words_for(keys, front.words_view())
            # The new front before the new versions: a view's version never covers a key its
            # front lacks (partner filter snapshots rely on it; risklist_server.store.filter_export).
            # Published as covering the old version (a kill -9 before the changelog leaves a superset).
            self.front = self._publish(front, self._sequence)
            del front
            for sequence in append_changelog(self._db, changes, self._sequence):
                self._sequence = sequence
            ingest_files(self._db, sst_paths)
            # Again as covering the new version, or every reader would catch all the keys up into its overlay.
            self.front = self._publish(self.front, self._sequence)

    def bulk_merge(self, sst_paths: Sequence[Path], changes: Iterable[bytes],
                   listed: Iterable[npt.NDArray[np.uint8]], listed_count: int) -> None:
        """Merge many changed records at once into a filled store: sorted SST files of puts and deletions,
        their encoded changelog entries, the keys listed after it (slices of n x 17 bytes), which the front
        must hold, and how many of them were not listed before (`listed_count`, what the front gains).

        Order for a kill -9 at any point: the front with the listed keys added first (a superset), then a
        mark, then every file in one atomic ingestion, then the changelog entries, then the mark is cleared.
        An open that finds the mark starts new versions after a gap (store.merge_mark), so partners reset
        instead of missing what the ingestion changed.
        """
        with self._write_lock:
            self._ensure_open()
            needed = self.front.added + listed_count
            front = BloomFront(self.front.word_count if needed <= self._front_capacity()
                               else max(self.front.word_count, words_for(2 * needed, self.front_policy.bits_per_key)),
                               added=needed)
            self.front.fill(front.words_view())
            for keys in listed:
                front_words_for(keys, front.words_view())
            self.front = self._publish(front, self._sequence)
            del front
            set_merge_mark(self._meta, self._sequence)
            pause_point("bulk-merge-ingest")
            ingest_files(self._db, sst_paths)
            pause_point("bulk-merge-changelog")
            for sequence in append_changelog(self._db, changes, self._sequence):
                self._sequence = sequence
            clear_merge_mark(self._meta)
            self.front = self._publish(self.front, self._sequence)

    def _heal_interrupted_merge(self) -> None:
        """After a merge cut short (store.merge_mark): an empty changelog entry VERSION_GAP ahead, so every
        partner's next update is a reset; then clear the mark."""
        if not merge_in_flight(self._meta):
            return
        batch = WriteBatch(raw_mode=True)
        batch.put(sequence_key(self._sequence + VERSION_GAP), encode_changes([], int(self._clock())),
                  self._changelog_handle)
        self._db.write(batch, _SYNCED)
        log.warning("bulk_merge_interrupted", version=self._sequence, new_version=self._sequence + VERSION_GAP)
        self._sequence += VERSION_GAP
        clear_merge_mark(self._meta)

    def begin_snapshot(self, source: str) -> None:
        """Forget the seen-marks of an earlier (perhaps interrupted) snapshot of `source`."""
        with self._write_lock:
            self._ensure_open()
            batch = WriteBatch(raw_mode=True)
            self._snapshot_marks.stage_forget(batch, source)
            self._db.write(batch)

    def sweep_snapshot(self, source: str, chunk: int = 1000) -> int:
        """Remove the source's contributions not seen since begin_snapshot; return how many.

        Applying a cluster log entry (log_entry), the entry's position is recorded only once the whole sweep is
        done, not with its first chunk: a sweep cut short (kill -9) is applied again after the restart, and
        sweeps the rest (a sweep repeated removes nothing more)."""
        applying: int | None = getattr(self._applying, "sequence", None)
        self._applying.sequence = None
        try:
            swept = self._sweep_chunks(source, chunk)
        finally:
            self._applying.sequence = applying
        self.begin_snapshot(source)
        return swept

    def _sweep_chunks(self, source: str, chunk: int) -> int:
        swept = 0
        for keys in keys_holding(self._db, source, chunk):
            with self._write_lock:
                self._ensure_open()
                # The sweep re-reads under the lock: a record may have changed since the scan.
                after, removed = self._snapshot_marks.sweep(self._db, source, keys)
                self._write(WriteBatch(raw_mode=True), [Change(key, bool(after[key])) for key in after], after)
            swept += removed
        return swept

    def _write(
        self, batch: WriteBatch, changes: list[Change], after: dict[bytes, Record], *, sync: bool = False
    ) -> None:
        """Front first, then records + changelog entry (and, applying a log entry, its position) in one WriteBatch.
        Caller holds the lock."""
        position = self._stage_log_position(batch)
        if position is not None:
            # Applying the cluster's log: the log holds the entry durable on a quorum of its servers already. An OS
            # crash loses this write and its position together, and the node applies the entry again from the log;
            # syncing here would only make every node wait for its disk on every write.
            sync = False
        if changes:
            for change in changes:
                if change.listed:
                    self.front.add(change.key)
                    batch.put(change.key, encode_record(after[change.key]))
                else:
                    batch.delete(change.key)
            entry = encode_changes(changes, int(self._clock()))
            batch.put(sequence_key(self._sequence + 1), entry, self._changelog_handle)
        if batch.is_empty():
            if sync:  # nothing new, but what made it so may not be on disk yet (an unsynced ingest)
                self._db.flush_wal(True)
            return
        if sync:
            self._db.write(batch, _SYNCED)
        else:
            self._db.write(batch)
        if position is not None:
            self._log_position = position
        if changes:
            self._sequence += 1
            if self._front_overfull():
                log.info("front_rebuild", reason="front grew past twice its capacity")
                self.front = self._publish(self._rebuild_front(), self._sequence)

    # ---- backups -----------------------------------------------------------------------

    def backup(self, target: Path) -> BackupManifest:
        """Write a complete backup of the store into the new or empty directory `target` (store.checkpoint).

        Writes wait only while the checkpoint is taken and the front copied (the write lock); the
        checksums, fsyncs and manifest follow with writes going on.
        """
        if target.absolute().resolve().is_relative_to(self.path.absolute().resolve()):
            raise BackupError(f"the backup directory {target} is inside the store {self.path}; name one outside it")
        prepare_backup_dir(target)
        with self._write_lock:
            self._ensure_open()
            take_checkpoint(self._db, target)
            sequence = self._sequence
            front = BloomFront(self.front.word_count, self.front.to_bytes(), self.front.added)
        return seal_backup(target, front, sequence, self._front_owner())

    # ---- lifecycle ---------------------------------------------------------------------

    def persist_front(self) -> None:
        """Publish the front with the sequence it covers: reader workers map it, a restart only catches up.

        The words are copied under the write lock (writes wait for a memory copy, not for the disk); the
        file is written, fsynced and renamed over the old one outside it, then this store serves from its
        mapping too, so the node holds one front. Nothing is written when the file already covers it all.
        """
        with self._publish_lock:
            self._persist_front()

    def _persist_front(self) -> None:
        """persist_front's work; the caller holds the publish lock."""
        with self._write_lock:
            self._ensure_open()
            front, sequence = self.front, self._sequence
            if front.overlay_keys == 0 and front.base is not None and front.base.covered_sequence == sequence:
                return
            words, added = front.words_view(), front.added
        started = time.perf_counter()
        save_front_words(self.path / FRONT_FILE, _little_endian(words), sequence, added, self._front_owner())
        del words
        mapped = map_front(self.path / FRONT_FILE, self._front_owner())
        with self._write_lock:
            shared = self._shared(mapped)
            if self.front is front and shared is not None:  # else a rebuild published a larger one meanwhile
                self.front = shared
        log.info("front_published", covered=sequence, front_bytes=len(mapped.words) * 8,
                 seconds=round(time.perf_counter() - started, 3))

    def _published_through(self, point: int) -> bool:
        """Whether the front this store serves from is a published file covering changelog sequence `point`."""
        base = self.front.base
        return base is not None and base.covered_sequence >= point

    def check_front_file(self) -> None:
        """Publish again if the front file is no longer the one this store mapped: replaced (republished from
        the mapping) or changed in place (the mapping shows the change: rebuilt from the records when it no
        longer matches its checksum or the file shrank)."""
        path = self.path / FRONT_FILE
        with self._write_lock:
            self._ensure_open()
            base, stamp = self.front.base, file_stamp(path)
            if base is None or stamp == base.stamp:
                return
            in_place = stamp is not None and stamp[:2] == base.stamp[:2]
            if in_place and (stamp is None or stamp[2] != base.stamp[2] or not base.intact()):
                log.error("front_file_damaged", path=str(path), action="rebuilt from the records")
                self.front = self._publish(self._rebuild_front(), self._sequence)
            else:
                log.warning("front_file_replaced", path=str(path), action="published again")
                self.front = self._publish(self.front, self._sequence)

    def unpublished_keys(self) -> int:
        """Keys added to the front since it was last published."""
        return self.front.overlay_keys

    def _open_front(self, *, restored: bool = False) -> SharedFront:
        """The published front mapped and caught up from the changelog, or a rebuilt one, published.

        A front file covering a sequence newer than the store means the store is behind what it once
        reached (rolled back, or damaged): refused, unless `restored` says an operator restored it on
        purpose; then the front is rebuilt from what the store holds.
        """
        try:
            mapped = map_front(self.path / FRONT_FILE, self._front_owner())
        except FrontFileRefused as refused:
            log.info("front_rebuild", reason=refused.reason)
            return self._publish(self._rebuild_front(), self._sequence)
        if mapped.covered_sequence > self._sequence:
            if not restored:
                raise StoreError(
                    f"the store at {self.path} is at list version {self._sequence}, behind the version "
                    f"{mapped.covered_sequence} its front file says it reached: it was rolled back or damaged. "
                    "Restore the latest backup; or, if this older copy was restored on purpose, start once with "
                    "--accept-restored-store (docs/operations.md)"
                )
            log.warning("restored_store_accepted", front_covered=mapped.covered_sequence, version=self._sequence)
            log.info("front_rebuild", reason="newer than the store")
            return self._publish(self._rebuild_front(), self._sequence)
        front = self._shared(mapped)
        if front is None:
            log.info("front_rebuild", reason="changelog trimmed past the published front",
                     front_covered=mapped.covered_sequence, trimmed_through=self._trimmed_through)
            return self._publish(self._rebuild_front(), self._sequence)
        log.info("front_loaded", covered=mapped.covered_sequence, version=self._sequence,
                 caught_up=front.overlay_keys)
        return front

    def _publish(self, front: BloomFront | SharedFront, covered: int) -> SharedFront:
        """Write `front` as the published file covering `covered` (the current version), and map it. The
        caller holds the write lock (or is opening the store)."""
        started = time.perf_counter()
        words = front.published_words() if isinstance(front, SharedFront) else front.words_view()
        save_front_words(self.path / FRONT_FILE, _little_endian(words), covered, front.added, self._front_owner())
        del words
        log.info("front_published", covered=covered, front_bytes=front.word_count * 8,
                 seconds=round(time.perf_counter() - started, 3))
        shared = self._shared(map_front(self.path / FRONT_FILE, self._front_owner()))
        if shared is None:  # covered is the current version: never trimmed past
            raise StoreError(f"the front published at version {covered} is older than the changelog's low-water "
                             f"mark {self._trimmed_through}: a bug; restart the server")
        return shared

    def _shared(self, mapped: MappedFront) -> SharedFront | None:
        """The mapped front with the keys of changelog entries after the sequence it covers; None when the
        changelog no longer reaches back to it (trimmed past it)."""
        shared = SharedFront(mapped, self.front_policy.bits_per_key)
        return None if self._add_changes_to_front(shared, mapped.covered_sequence) is None else shared

    def flush(self) -> None:
        """Flush memtables to SST files (after bulk loads)."""
        self._db.flush()

    def close(self) -> None:
        """Persist the front and close RocksDB; safe to call twice.

        RocksDB is released even when the front cannot be saved (a full disk): the StoreError
        follows, and the next open finds no lock held.
        """
        if self._closed:
            return
        try:
            self.persist_front()
        finally:
            with self._write_lock:
                self._closed = True
                self._release()

    def _release(self) -> None:
        # Column-family views share the DB; every one must go before the LOCK file is freed. Each is
        # closed even when one fails (RocksDB refuses to flush after a failed write: a full disk).
        failures: list[str] = []
        for close in (self._changelog.close, self._meta.close, self._outcomes.close, self._snapshot_marks.close,
                      self._db.close):
            try:
                close()
            except Exception as error:  # rocksdict raises plain Exception with RocksDB's message
                failures.append(str(error))
        del self._changelog, self._meta, self._outcomes, self._snapshot_marks, self._changelog_handle, self._meta_handle
        if failures:
            raise StoreError(f"closing the store at {self.path} failed: {failures[0]}; free space on its disk "
                             "if it is full, then re-run (what was acknowledged is in its write-ahead log)")

    def __enter__(self) -> RiskStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _ensure_open(self) -> None:
        if self._closed:
            raise StoreError(f"the store at {self.path} is closed")


def init_store(path: str | Path, secret_fingerprint: str) -> None:
    """Create an empty store at `path` (directory 0700) marked with the secret's fingerprint; an
    existing store made with that secret is left as it is."""
    RiskStore(path, secret_fingerprint=secret_fingerprint, create=True).close()


def _little_endian(words: npt.NDArray[np.uint64]) -> bytes | memoryview:
    """The words as the file holds them (little-endian), without a copy where the host already is."""
    if sys.byteorder == "little":
        return np.ascontiguousarray(words).data.cast("B")
    return words.astype("<u8").tobytes()
