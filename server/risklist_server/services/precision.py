"""Per-source precision for the policy, refreshed from the store's outcome tallies every few seconds."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from risklist_server.core.outcome import SourceTally

REFRESH_SECONDS = 5.0


class TallyReader(Protocol):
    def source_tallies(self) -> dict[str, SourceTally]: ...


class SourcePrecision:
    """`tally(source)` from a snapshot of the tallies no older than `refresh_seconds`.

    Lookups call it for listed subjects only; the refresh (a prefix scan of the outcomes
    column family, one row per source) runs on the calling thread at most once per interval.
    """

    def __init__(
        self, store: TallyReader, *, min_outcomes: int = 10, refresh_seconds: float = REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._min_outcomes = min_outcomes
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._tallies: dict[str, SourceTally] = {}
        self._loaded_at: float | None = None

    def tally(self, source: str) -> SourceTally:
        """The source's outcome tally (all zero when no outcome was reported)."""
        now = self._clock()
        if self._loaded_at is None or now - self._loaded_at >= self._refresh_seconds:
            with self._lock:
                if self._loaded_at is None or now - self._loaded_at >= self._refresh_seconds:
                    self._tallies = self._store.source_tallies()
                    self._loaded_at = now
        return self._tallies.get(source, SourceTally())

    def precision(self, source: str) -> float | None:
        """The policy's PrecisionLookup: known once `min_outcomes` confirmed + false-positive outcomes exist."""
        tally = self.tally(source)
        return tally.precision if tally.decided >= self._min_outcomes else None
