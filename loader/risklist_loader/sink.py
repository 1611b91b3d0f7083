"""Where validated batches go: the interface the store and server sinks share."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from risklist_loader.spool import Batch
from risklist_server.services.ingest import LoadMode
from risklist_server.store.apply import ApplyResult


@dataclass(frozen=True, slots=True)
class LoadOutcome:
    """What the whole load did, and the list version it left (None if unknown)."""

    result: ApplyResult
    list_version: int | None


BatchCallback = Callable[[Batch, ApplyResult | None], None]
"""Called once per batch after the sink took it: with its counts when the sink knows them."""


class Sink(Protocol):
    """open() as validation starts (fail fast: pass 1's workers are forked first; a no-op when already open),
    load() once per run_load, close() always (also when never opened)."""

    description: str

    @property
    def is_open(self) -> bool:
        """Whether open() ran (a store or a channel is held, with threads a fork must not copy)."""
        ...

    def open(self) -> None: ...

    def load(
        self, source: str, mode: LoadMode, batches: Iterable[Batch], on_batch: BatchCallback
    ) -> LoadOutcome: ...

    def close(self) -> None: ...
