"""A read replica of the store: a RocksDB secondary that follows the writer through the changelog."""

from __future__ import annotations

import threading
from pathlib import Path

import structlog

from risklist_server.core.errors import FrontFileRefused, StoreError
from risklist_server.store.changelog_trim import read_trimmed_through
from risklist_server.store.front_map import FileStamp, file_stamp, map_front
from risklist_server.store.reads import DEFAULT_FRONT_POLICY, FRONT_FILE, FrontPolicy, StoreReads
from risklist_server.store.rocks import DEFAULT_BLOCK_CACHE_BYTES, open_rocks_secondary
from risklist_server.store.secret_check import check_replica_secret
from risklist_server.store.shared_front import SharedFront
from risklist_server.store.store_id import read_store_id

log = structlog.get_logger("risklist.replica")


class ReplicaStore(StoreReads):
    """Lookups for a worker process; `catch_up()` makes the writer's new writes visible.

    The writer must have opened the store first (a replica never creates one). Every key a
    changelog entry lists reaches the front before the entry's sequence becomes this replica's
    version, and a key the front does not hold is answered "not listed": a write is visible
    here once catch_up has added it to the front, never half-visible.

    The front is the writer's published file, mapped read-only and shared with the other
    replicas on the node, plus the keys listed since (risklist_server.store.shared_front). A
    re-published file is mapped at the next catch-up; a missing or refused one is logged
    (`front_file_refused`) and every lookup goes to RocksDB until a good one appears.
    """

    front: SharedFront

    def __init__(
        self,
        path: str | Path,
        secondary_dir: str | Path,
        *,
        secret_fingerprint: str,
        front_policy: FrontPolicy = DEFAULT_FRONT_POLICY,
        block_cache_bytes: int = DEFAULT_BLOCK_CACHE_BYTES,
    ) -> None:
        if not (Path(path) / "CURRENT").exists():
            raise StoreError(f"no store at {path}: a read replica follows an existing store")
        # A reader whose checks all go through the front leaves RocksDB's own SST filters unloaded (the writer
        # keeps them: its merge reads do not use the front); a front that is off for some calls keeps them. Until
        # the writer's front is mapped, such a reader's misses read an index and a data block: slower, not wrong.
        screened = front_policy.single and front_policy.batch
        self._attach(path, front_policy, open_rocks_secondary(str(path), str(secondary_dir), block_cache_bytes,
                                                              sst_filters=not screened))
        self._catch_up_lock = threading.Lock()
        self._closed = False
        try:
            self.secret_fingerprint = secret_fingerprint
            check_replica_secret(self.path, self._meta, secret_fingerprint)
            self._sequence = self._last_sequence()
            self._front_stamp: FileStamp | None = None
            self._map_front()
        except BaseException:
            self._release()
            raise

    def catch_up(self) -> int:
        """Read the writer's new writes, add their keys to the front, return the new version."""
        with self._catch_up_lock:
            if self._closed:
                raise StoreError(f"the replica of {self.path} is closed")
            self._db.try_catch_up_with_primary()
            self._trimmed_through = read_trimmed_through(self._meta)
            if file_stamp(self.path / FRONT_FILE) != self._front_stamp:
                self._map_front()
            else:
                self._follow(self.front, self._sequence)
            return self._sequence

    def _map_front(self) -> None:
        """Map the published front file (or none, if it is refused or stale) and add the keys listed after it."""
        path = self.path / FRONT_FILE
        self._front_stamp = file_stamp(path)
        self._store_id = self._store_id or read_store_id(self._meta)
        bits = self.front_policy.bits_per_key
        try:
            mapped = map_front(path, self._front_owner())
        except FrontFileRefused as refused:
            log.error("front_file_refused", path=str(path), reason=refused.reason, version=self._sequence)
            front, start = SharedFront(None, bits), self._sequence
        else:
            start = min(mapped.covered_sequence, self._sequence)
            if start < self._trimmed_through <= mapped.covered_sequence:
                start = mapped.covered_sequence  # the file holds what the trimmed entries listed
            front = SharedFront(mapped, bits)
        added = self._follow(front, start)
        if front.base is not None:
            log.info("front_mapped", covered=front.base.covered_sequence, version=self._sequence, caught_up=added,
                     front_bytes=front.word_count * 8)

    def _follow(self, front: SharedFront, start: int) -> int:
        """Add the keys listed after `start` to `front`, make it this replica's front and move the version on;
        return the keys added.

        When the changelog no longer reaches back to `start` (the writer trimmed entries this front
        lacks), the front would miss keys: it is dropped for none (every lookup goes to RocksDB,
        `front_file_stale`) until the writer publishes a file covering the trim, which the next catch-up
        maps. A replica never rebuilds a private front from the records.
        """
        caught = self._add_changes_to_front(front, start)
        if caught is None:
            if front.base is None:  # already every key a candidate: nothing is missed
                self.front, self._sequence = front, max(self._sequence, self._last_sequence())
                return 0
            covered = front.base.covered_sequence
            log.error("front_file_stale", front_covered=covered, version=self._sequence,
                      trimmed_through=self._trimmed_through, action="lookups go to RocksDB until the writer "
                      "publishes a front covering the trim")
            self.front = SharedFront(None, self.front_policy.bits_per_key)
            self._sequence = max(self._sequence, self._last_sequence())
            return 0
        last, added = caught
        self.front = front  # complete before it answers, and before the version moves past it
        self._sequence = max(last, self._sequence)
        return added

    def close(self) -> None:
        """Release RocksDB; safe to call twice."""
        with self._catch_up_lock:
            if self._closed:
                return
            self._closed = True
            self._release()

    def _release(self) -> None:
        for view in (self._changelog, self._meta):
            view.close()
        self._outcomes.close()
        del self._changelog, self._meta, self._outcomes
        self._db.close()

    def __enter__(self) -> ReplicaStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
