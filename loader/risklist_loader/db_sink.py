"""The --db sink: apply batches straight to a store no server holds (bulk build)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from risklist_kernel.errors import RiskListError
from risklist_loader.bulk import bulk_into_store
from risklist_loader.errors import SinkError
from risklist_loader.ordering import BucketFeed, FeedCounts
from risklist_loader.sink import BatchCallback, LoadOutcome
from risklist_loader.spool import Batch
from risklist_loader.worker_pool import Workers
from risklist_server.services.ingest import IngestSession, LoadMode
from risklist_server.store.bulk import remove_bulk_dirs
from risklist_server.store.risk_store import RiskStore

RERUN_HINT = "re-run the same command to complete the load (re-running a load is safe)"


LOADER_BLOCK_CACHE_BYTES = 32 * 1024 * 1024
"""RocksDB's block cache in the loader: a load reads each stored record once, in key order (a bulk merge's
multi-gets), so a server-sized cache (256 MiB) would only fill with blocks never read again."""


class DbSink:
    """Opens the store read-write (one writer at a time) and applies through IngestSession."""

    def __init__(self, path: Path, secret_fingerprint: str, *, accept_restored: bool = False) -> None:
        self.description = f"store {path}"
        self._path = path
        self._fingerprint = secret_fingerprint
        self._accept_restored = accept_restored
        self._store: RiskStore | None = None

    @property
    def is_open(self) -> bool:
        return self._store is not None

    def open(self) -> None:
        """Open the store (unless open already), creating it (0700) if there is none; a store held by a server or
        another loader, damaged, or older than its front file raises StoreError."""
        if self._store is not None:
            return
        self._store = RiskStore(self._path, secret_fingerprint=self._fingerprint, create=True,
                                accept_restored=self._accept_restored, block_cache_bytes=LOADER_BLOCK_CACHE_BYTES)
        remove_bulk_dirs(self._path)  # scratch files of a bulk load killed before it cleaned up

    def load(
        self, source: str, mode: LoadMode, batches: Iterable[Batch], on_batch: BatchCallback
    ) -> LoadOutcome:
        store = self._store
        if store is None:
            raise SinkError("the store is not open")
        session = IngestSession(store, source, mode)
        applied = 0
        try:
            session.start()
            for batch in batches:
                result = session.apply(batch.mutations)
                applied += 1
                on_batch(batch, result)
            outcome = session.finish()
        except RiskListError as error:
            raise SinkError(
                f"{error}; {applied} batch(es) were applied before it; {RERUN_HINT}"
            ) from None
        except Exception as error:  # rocksdict raises plain Exception with RocksDB's message
            raise SinkError(
                f"the store at {self._path} failed: {error}; {applied} batch(es) were applied "
                f"before it; {RERUN_HINT}"
            ) from None
        return LoadOutcome(outcome, store.version)

    def can_bulk(self, mode: LoadMode) -> bool:
        """Whether the bulk path applies: into an empty store (a fresh build), or a delta into a filled one. A
        snapshot into a filled store takes batches: its sweep works from the seen-marks they leave."""
        return self._store is not None and (mode is LoadMode.DELTA or not self._store.has_records())

    def load_bulk(self, source: str, mode: LoadMode, feed: BucketFeed, refusal: Callable[[FeedCounts], str],
                  pool: Workers | None = None) -> tuple[FeedCounts, LoadOutcome | None]:
        """Decide a whole validated feed's rows and apply them to the store as SST files (risklist_loader.bulk),
        unless `refusal`, shown the feed's counts once the files are built, gives a reason not to: the counts,
        and the outcome (None: nothing applied)."""
        store = self._store
        if store is None:
            raise SinkError("the store is not open")
        session = IngestSession(store, source, mode)

        def go_ahead(counts: FeedCounts) -> bool:
            if refusal(counts):
                return False
            session.start()  # a snapshot forgets marks of an earlier interrupted one; no sweep needed
            return True

        try:
            counts, result = bulk_into_store(store, source, feed, go_ahead, pool)
        except RiskListError as error:
            raise SinkError(f"{error}; {RERUN_HINT}") from None
        except Exception as error:  # rocksdict raises plain Exception with RocksDB's message
            raise SinkError(f"the store at {self._path} failed: {error}; {RERUN_HINT}") from None
        return counts, (None if result is None else LoadOutcome(result, store.version))

    def close(self) -> None:
        """Persist the Bloom front and release the store's lock."""
        if self._store is not None:
            store, self._store = self._store, None
            store.close()
