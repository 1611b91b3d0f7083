"""A read replica of the store: a RocksDB secondary that follows the writer through the changelog."""

from __future__ import annotations

import threading
from pathlib import Path

import structlog

from risklist_server.core.errors import StoreError
from risklist_server.store.changelog_trim import read_trimmed_through
from risklist_server.store.reads import DEFAULT_FRONT_POLICY, FrontPolicy, StoreReads
from risklist_server.store.rocks import DEFAULT_BLOCK_CACHE_BYTES, open_rocks_secondary
from risklist_server.store.secret_check import check_replica_secret

log = structlog.get_logger("risklist.replica")


class ReplicaStore(StoreReads):
    """Lookups for a worker process; `catch_up()` makes the writer's new writes visible.

    The writer must have opened the store first (a replica never creates one). Every key a
    changelog entry lists reaches the front before the entry's sequence becomes this replica's
    version, and a key the front does not hold is answered "not listed": a write is visible
    here once catch_up has added it to the front, never half-visible.
    """

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
        self._attach(path, front_policy, open_rocks_secondary(str(path), str(secondary_dir), block_cache_bytes))
        self._catch_up_lock = threading.Lock()
        self._closed = False
        try:
            self.secret_fingerprint = secret_fingerprint
            check_replica_secret(self.path, self._meta, secret_fingerprint)
            self._sequence = self._last_sequence()
            self.front = self._open_front(accept_newer=True)
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
            caught = self._add_changes_to_front(self.front, self._sequence)
            if caught is None:  # the writer trimmed entries this replica had not read yet
                log.info("front_rebuild", reason="changelog trimmed past this replica", version=self._sequence,
                         trimmed_through=self._trimmed_through)
                front = self._rebuild_front()
                # The rebuilt front holds every record this catch-up sees; its version follows it.
                self.front, self._sequence = front, self._last_sequence()
                return self._sequence
            last, _ = caught
            if last != self._sequence:
                self._sequence = last
                if self._front_overfull():
                    log.info("front_rebuild", reason="front grew past twice its capacity")
                    self.front = self._rebuild_front()
            return self._sequence

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
