"""The writer's changelog trim: a background thread keeping the changelog to its retention window."""

from __future__ import annotations

import threading

import structlog

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
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="changelog-trim", daemon=True)
        self.failed_ticks = 0
        """Ticks whose trim failed, since the start (each retried at the next tick)."""

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop after the trim in progress (call before closing the store)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def trim_once(self) -> ChangelogTrim:
        """Trim (and compact) once; return what was trimmed."""
        done = self._store.trim_changelog(self._window)
        if done.trimmed:
            self._store.compact_changelog(done.trimmed_through)
            log.info("changelog_trimmed", entries=done.trimmed, trimmed_through=done.trimmed_through,
                     list_version=self._store.version, changelog_bytes=self._store.changelog_bytes())
        return done

    def _run(self) -> None:
        failing = False
        while not self._stop.wait(self._interval):
            try:
                self.trim_once()
            except Exception as error:  # keep trying next tick; say so once per outage
                self.failed_ticks += 1
                if not failing:
                    log.error("changelog_trim_failed", error=str(error))
                failing = True
            else:
                failing = False
