"""The outcomes column family: each partner's latest verified outcome per subject, and per-source tallies.

Verified outcomes (each came with its hit's outcome token) live under `ve` (entries) and `vt`
(tallies). What the family held before outcomes were verified, under `e` and `t`, is kept as it
was: those tallies are the legacy, unverified ones (shown apart by Admin.GetQuality, never used
by the policy), and nothing writes there any more.
"""

from __future__ import annotations

from collections.abc import Iterable

from rocksdict import Rdict, WriteBatch

from risklist_kernel.enums import Outcome
from risklist_server.core.outcome import (
    OutcomeEntry,
    SourceTally,
    TallyChange,
    credited_sources,
    record_outcome,
)
from risklist_server.core.record import Record
from risklist_server.store.rocks import OUTCOMES_CF, get_one, iter_items

_ENTRY = b"ve"
_TALLY = b"vt"
_LEGACY_TALLY = b"t"


def _entry_key(reporter: str, key: bytes) -> bytes:
    """One entry per (partner, subject): quoting new request ids revises it, never adds counts."""
    return _ENTRY + reporter.encode() + b"\x00" + key


def _tally_key(source: str) -> bytes:
    return _TALLY + source.encode()


class OutcomeLedger:
    """Reads and stages writes of outcomes; the writer holds its lock around read-stage-write."""

    def __init__(self, db: Rdict) -> None:
        self._table = db.get_column_family(OUTCOMES_CF)
        self._handle = db.get_column_family_handle(OUTCOMES_CF)

    def entry(self, reporter: str, key: bytes) -> OutcomeEntry | None:
        """The outcome `reporter` last gave for subject `key`, if any."""
        data = get_one(self._table, _entry_key(reporter, key))
        return None if data is None else OutcomeEntry.decode(data)

    def stage_outcome(
        self, batch: WriteBatch, reporter: str, key: bytes, record: Record, outcome: Outcome, now: int
    ) -> int:
        """Put `reporter`'s outcome for subject `key` (listed as `record`) into `batch`; return the sources credited.

        A partner grades a subject once: its first outcome credits the subject's live sources other
        than itself; a later one (for any answer) is a revision that moves their count to the new outcome.
        """
        entry, changes = record_outcome(self.entry(reporter, key), credited_sources(record, reporter, now), outcome)
        self.stage(batch, reporter, key, entry, changes)
        return len(entry.credited)

    def stage(
        self, batch: WriteBatch, reporter: str, key: bytes, entry: OutcomeEntry, changes: list[TallyChange]
    ) -> None:
        """Put the entry and the changed tallies into `batch` (written atomically by the caller)."""
        batch.put(_entry_key(reporter, key), entry.encode(), self._handle)
        tallies: dict[str, SourceTally] = {}
        for source, outcome, amount in changes:
            tally = tallies.get(source) or self.tally(source)
            tallies[source] = tally.plus(outcome, amount)
        for source, tally in tallies.items():
            batch.put(_tally_key(source), tally.encode(), self._handle)

    def tally(self, source: str) -> SourceTally:
        data = get_one(self._table, _tally_key(source))
        return SourceTally() if data is None else SourceTally.decode(data)

    def tallies(self) -> dict[str, SourceTally]:
        """Every source's tally of verified outcomes, by source id."""
        return self._scan_tallies(_TALLY)

    def legacy_tallies(self) -> dict[str, SourceTally]:
        """Every source's tally of outcomes recorded before outcomes were verified, by source id."""
        return self._scan_tallies(_LEGACY_TALLY)

    def _scan_tallies(self, prefix: bytes) -> dict[str, SourceTally]:
        found: dict[str, SourceTally] = {}
        for stored_key, value in iter_items(self._table, prefix):
            if not stored_key.startswith(prefix):
                break
            found[stored_key[len(prefix):].decode()] = SourceTally.decode(value)
        return found

    def close(self) -> None:
        self._table.close()
        del self._table, self._handle


def live_contributions_by_source(records: Iterable[tuple[bytes, Record]], now: int) -> dict[str, int]:
    """How many live contributions each source has among `records` (the volumes tallies are read against)."""
    counts: dict[str, int] = {}
    for _, record in records:
        for contribution in record:
            if contribution.is_live(now):
                counts[contribution.source] = counts.get(contribution.source, 0) + 1
    return counts
