"""The writer's expiry sweep: a background thread purging expired contributions, a bounded slice per tick."""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from risklist_server.services.poller import Poller
from risklist_server.store.expiry_purge import ExpirySlice
from risklist_server.store.risk_store import RiskStore

log = structlog.get_logger("risklist.expiry")


class ExpirySweeper:
    """Walks the records in key order, `slice_size` per tick, and starts over at the end.

    Every write path is covered (Report, ingest, bulk-built SSTs), since it reads the records
    themselves. A purge is an ordinary write with a changelog entry, so fronts and replicas follow.
    `purge(start, limit, now)` purges one slice: the store's own by default; a cluster node's goes through
    its log (risklist_server.cluster.expiry_log).
    """

    def __init__(
        self,
        store: RiskStore,
        *,
        interval: float,
        slice_size: int,
        clock: Callable[[], float] = time.time,
        purge: Callable[[bytes | None, int, int], ExpirySlice] | None = None,
    ) -> None:
        self._store = store
        self._purge = purge or store.purge_expired
        self._slice_size = slice_size
        self._clock = clock
        self._next: bytes | None = None
        self._cycle = _Cycle()
        self._poller = Poller(self.sweep_once, seconds=interval, name="expiry-sweep",
                              failure_event="expiry_sweep_failed", logger=log, once_per_outage=True)

    def start(self) -> None:
        self._poller.start()

    def stop(self) -> None:
        """Stop after the slice in progress (call before closing the store)."""
        self._poller.stop()

    def sweep_once(self) -> int:
        """Sweep one slice; return the contributions purged."""
        done = self._purge(self._next, self._slice_size, int(self._clock()))
        self._next = done.next_key
        self._cycle.add(done.scanned, done.purged)
        if done.purged:
            log.info("expiry_purged", purged=done.purged, list_version=self._store.version)
        if done.next_key is None:
            self._cycle.finish()
        return done.purged


class _Cycle:
    """Figures of one full pass over the records, logged when it purged something or took a minute."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._started = time.monotonic()
        self._scanned = 0
        self._purged = 0

    def add(self, scanned: int, purged: int) -> None:
        self._scanned += scanned
        self._purged += purged

    def finish(self) -> None:
        seconds = time.monotonic() - self._started
        if self._purged or seconds >= 60:
            log.info("expiry_sweep_cycle", records=self._scanned, purged=self._purged, seconds=round(seconds, 3))
        self._reset()
