"""The writer's changelog trim: a background thread keeping the changelog to its retention window."""

from __future__ import annotations

import structlog

from risklist_server.services.poller import Poller
from risklist_server.store.changelog_trim import ChangelogTrim, ChangelogWindow
from risklist_server.store.risk_store import RiskStore

log = structlog.get_logger("risklist.changelog")


class ChangelogTrimmer:
    """Every `interval` seconds, trims what the window lets go and compacts it away.

    A trim moves the changelog's low-water mark; readers see it at their next catch-up, and a partner
    filter older than it gets a reset (risklist_server.store.filter_export). The compaction gives the
    disk space back at once, so the changelog's size stays flat under churn.
    """

    def __init__(self, store: RiskStore, window: ChangelogWindow, *, interval: float) -> None:
        self._store = store
        self._window = window
        self._poller = Poller(self.trim_once, seconds=interval, name="changelog-trim",
                              failure_event="changelog_trim_failed", logger=log, once_per_outage=True)

    @property
    def failed_ticks(self) -> int:
        """Ticks whose trim failed, since the start (each retried at the next tick)."""
        return self._poller.failed_rounds

    def start(self) -> None:
        self._poller.start()

    def stop(self) -> None:
        """Stop after the trim in progress (call before closing the store)."""
        self._poller.stop()

    def trim_once(self) -> ChangelogTrim:
        """Trim (and compact) once; return what was trimmed."""
        done = self._store.trim_changelog(self._window)
        if done.trimmed:
            self._store.compact_changelog(done.trimmed_through)
            log.info("changelog_trimmed", entries=done.trimmed, trimmed_through=done.trimmed_through,
                     list_version=self._store.version, changelog_bytes=self._store.changelog_bytes())
        return done
