"""The writer's expiry sweep: a background thread purging expired contributions, a bounded slice per tick.

What is expired depends on the clock alone, so a clock set years ahead (a restored virtual machine, a bad time
server) would purge every contribution of the list for good, and in a cluster on every node. The sweep therefore
pauses once it purged more within an hour than a fraction of the records (`max_purged_fraction`, or MIN_PURGE_LIMIT
if more): that is far above what expires in a normal hour, and what it keeps is never answered as listed anyway
(a verdict leaves out expired contributions). It stays paused until the writer restarts.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

import structlog

from risklist_server.services.poller import Poller
from risklist_server.store.expiry_purge import ExpirySlice
from risklist_server.store.risk_store import RiskStore

log = structlog.get_logger("risklist.expiry")

PAUSE_WINDOW_S = 3600.0
"""The purges the limit counts: those of the last hour."""
MIN_PURGE_LIMIT = 10_000
"""The least the limit allows within an hour, whatever the store's size."""


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
        max_purged_fraction: float = 0.01,
        min_limit: int = MIN_PURGE_LIMIT,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._limit = _PurgeLimit(store, max_purged_fraction, min_limit, monotonic)
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

    @property
    def paused(self) -> bool:
        """Whether the sweep stopped at its limit (until the writer restarts)."""
        return self._limit.reached

    def sweep_once(self) -> int:
        """Sweep one slice; return the contributions purged (none once paused)."""
        if self._limit.reached:
            return 0
        done = self._purge(self._next, self._slice_size, int(self._clock()))
        self._next = done.next_key
        self._cycle.add(done.scanned, done.purged)
        if done.purged:
            log.info("expiry_purged", purged=done.purged, list_version=self._store.version)
            self._limit.add(done.purged)
        if done.next_key is None:
            self._cycle.finish()
        return done.purged


class _PurgeLimit:
    """Contributions purged within the last PAUSE_WINDOW_S, against the most the sweep may purge in it."""

    def __init__(self, store: RiskStore, fraction: float, least: int, monotonic: Callable[[], float]) -> None:
        self._store = store
        self._fraction = fraction
        self._least = least
        self._monotonic = monotonic
        self._purges: deque[tuple[float, int]] = deque()
        self._total = 0
        self.reached = False

    def add(self, purged: int) -> None:
        now = self._monotonic()
        self._purges.append((now, purged))
        self._total += purged
        while self._purges and self._purges[0][0] <= now - PAUSE_WINDOW_S:
            self._total -= self._purges.popleft()[1]
        records = self._store.record_estimate()
        limit = max(self._least, int(self._fraction * records))
        if self._total > limit:
            self.reached = True
            log.error("expiry_sweep_paused", purged_last_hour=self._total, limit=limit, records=records,
                      hint="check the server's clock: a clock set ahead expires contributions early; the sweep "
                           "resumes when the writer restarts (expiry_max_purged_fraction_per_hour raises the limit)")


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
