"""One feed load applied by the single writer: delta, or snapshot with a final sweep."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

from risklist_server.core.mutation import Mutation
from risklist_server.store.apply import ApplyResult
from risklist_server.store.risk_store import RiskStore


class LoadMode(Enum):
    DELTA = "delta"
    SNAPSHOT = "snapshot"


class IngestSession:
    """start() once, apply() per batch, finish() once; re-running a whole load is a no-op."""

    def __init__(self, store: RiskStore, source: str, mode: LoadMode) -> None:
        self._store = store
        self._source = source
        self._mode = mode
        self.result = ApplyResult()

    def start(self) -> None:
        """A snapshot forgets the marks of any earlier interrupted snapshot of this source."""
        if self._mode is LoadMode.SNAPSHOT:
            self._store.begin_snapshot(self._source)

    def apply(self, mutations: Sequence[Mutation]) -> ApplyResult:
        """Apply one batch atomically; return (and accumulate) its counts."""
        snapshot_source = self._source if self._mode is LoadMode.SNAPSHOT else None
        applied = self._store.apply(mutations, snapshot_source=snapshot_source)
        self.result.merge(applied)
        return applied

    def finish(self) -> ApplyResult:
        """Snapshot: remove the source's contributions the feed did not hold. Returns totals."""
        if self._mode is LoadMode.SNAPSHOT:
            self.result.swept += self._store.sweep_snapshot(self._source)
        return self.result
