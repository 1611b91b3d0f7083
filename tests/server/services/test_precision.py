"""The policy's precision view follows the store's tallies within the refresh interval."""

from __future__ import annotations

from risklist_server.core.outcome import SourceTally
from risklist_server.services.precision import SourcePrecision


class _Tallies:
    def __init__(self) -> None:
        self.current: dict[str, SourceTally] = {}
        self.reads = 0

    def source_tallies(self) -> dict[str, SourceTally]:
        self.reads += 1
        return dict(self.current)


def test_tallies_are_reread_only_after_the_interval() -> None:
    """Within the interval answers come from the snapshot; after it the new tallies show."""
    store, now = _Tallies(), [0.0]
    precision = SourcePrecision(store, refresh_seconds=5, clock=lambda: now[0])
    assert precision.tally("bank-a") == SourceTally()
    store.current["bank-a"] = SourceTally(confirmed_fraud=3, false_positive=1)
    now[0] = 4.9
    assert precision.tally("bank-a").precision is None
    now[0] = 5.0
    assert precision.tally("bank-a").precision == 0.75
    assert store.reads == 2
