"""Outcomes of hits and per-source list quality: what partners said a hit turned out to be."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from risklist_kernel.enums import Outcome
from risklist_server.core.errors import InvalidRecord
from risklist_server.core.record import Record

OUTCOME_FORMAT_VERSION = 1

_TALLY = struct.Struct("<4Q")


@dataclass(frozen=True, slots=True)
class SourceTally:
    """Outcomes reported for hits a source contributed to."""

    confirmed_fraud: int = 0
    false_positive: int = 0
    customer_explained: int = 0
    unknown: int = 0

    @property
    def decided(self) -> int:
        """Outcomes that say whether the listing was right: confirmed or false positive."""
        return self.confirmed_fraud + self.false_positive

    @property
    def total(self) -> int:
        return self.confirmed_fraud + self.false_positive + self.customer_explained + self.unknown

    @property
    def precision(self) -> float | None:
        """confirmed / (confirmed + false positive); None while neither was reported."""
        return self.confirmed_fraud / self.decided if self.decided else None

    def plus(self, outcome: Outcome, amount: int = 1) -> SourceTally:
        """This tally with `amount` (may be -1) more outcomes of `outcome`."""
        counts = list(self.as_tuple())
        counts[outcome - 1] = max(0, counts[outcome - 1] + amount)
        return SourceTally(*counts)

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.confirmed_fraud, self.false_positive, self.customer_explained, self.unknown)

    def encode(self) -> bytes:
        return _TALLY.pack(*self.as_tuple())

    @classmethod
    def decode(cls, data: bytes) -> SourceTally:
        if len(data) != _TALLY.size:
            raise InvalidRecord(f"stored source tally has {len(data)} bytes, not {_TALLY.size}")
        return cls(*_TALLY.unpack(data))


@dataclass(frozen=True, slots=True)
class OutcomeEntry:
    """One partner's latest outcome for one subject, and the sources it counts for."""

    outcome: Outcome
    credited: tuple[str, ...]

    def encode(self) -> bytes:
        """Version u8, outcome u8, source count u8, then per source: u8 length + UTF-8."""
        parts = [bytes((OUTCOME_FORMAT_VERSION, self.outcome, len(self.credited)))]
        for source in self.credited:
            encoded = source.encode()
            parts.append(bytes((len(encoded),)))
            parts.append(encoded)
        return b"".join(parts)

    @classmethod
    def decode(cls, data: bytes) -> OutcomeEntry:
        try:
            if data[0] != OUTCOME_FORMAT_VERSION:
                raise InvalidRecord(f"outcome entry format version {data[0]} is not supported")
            outcome, count = Outcome(data[1]), data[2]
            offset, sources = 3, []
            for _ in range(count):
                length = data[offset]
                sources.append(data[offset + 1 : offset + 1 + length].decode())
                offset += 1 + length
        except (IndexError, ValueError, UnicodeDecodeError) as error:
            if isinstance(error, InvalidRecord):
                raise
            raise InvalidRecord(f"stored outcome entry is damaged: {error}") from None
        if offset != len(data):
            raise InvalidRecord("stored outcome entry has the wrong length")
        return cls(outcome, tuple(sources))


def credited_sources(record: Record, reporter: str, now: int) -> tuple[str, ...]:
    """Distinct sources of the live contributions, except the reporter's own (no self-grading)."""
    return tuple(sorted({c.source for c in record if c.is_live(now) and c.source != reporter}))


TallyChange = tuple[str, Outcome, int]
"""(source, outcome, +1 or -1)."""


def record_outcome(
    previous: OutcomeEntry | None, credited_now: tuple[str, ...], outcome: Outcome
) -> tuple[OutcomeEntry, list[TallyChange]]:
    """The entry to store and the tally changes for one partner's outcome about one subject.

    The first outcome credits `credited_now` (the subject's sources when it is reported). A
    revision (the same partner and subject again, whatever answer it quotes) keeps the sources
    first credited and moves their count from the old outcome to the new one, so repeating a
    report never counts twice.
    """
    if previous is None:
        return OutcomeEntry(outcome, credited_now), [(source, outcome, +1) for source in credited_now]
    entry = OutcomeEntry(outcome, previous.credited)
    if previous.outcome == outcome:
        return entry, []
    return entry, [
        *((source, previous.outcome, -1) for source in previous.credited),
        *((source, outcome, +1) for source in previous.credited),
    ]
