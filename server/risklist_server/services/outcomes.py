"""Taking partners' outcomes of hits, and the per-source quality figures built from them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from risklist_server.core.errors import InvalidSubject, InvalidSubjects
from risklist_server.core.outcome import REQUEST_ID_PATTERN, Outcome, SourceTally
from risklist_server.core.subject import Subject, SubjectResolver


class OutcomeWriter(Protocol):
    """Where outcomes are recorded: the store's single writer (directly, or through the writer link)."""

    def record_outcome(self, reporter: str, key: bytes, outcome: Outcome, now: int) -> int: ...


class OutcomeService:
    """Validates a ReportOutcome and records it; tests call it without a network."""

    def __init__(
        self, resolver: SubjectResolver, writer: OutcomeWriter, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._resolver = resolver
        self._writer = writer
        self._clock = clock

    def report(self, reporter: str, hit_request_id: str, subject: Subject, outcome: int) -> int:
        """Record `reporter`'s outcome for `subject` in answer `hit_request_id`; return sources credited."""
        violations: list[tuple[str, str]] = []
        if not REQUEST_ID_PATTERN.fullmatch(hit_request_id):
            violations.append(("hit_request_id", "must be the 24-hex-character request_id of the answer that hit"))
        try:
            parsed = Outcome(outcome)
        except ValueError:
            violations.append(("outcome", f"outcome {outcome} is unspecified or unknown"))
        try:
            key = self._resolver.storage_key(subject)
        except InvalidSubject as error:
            violations.append((f"subject.{error.field}", error.reason))
        if violations:
            raise InvalidSubjects(violations)
        return self._writer.record_outcome(reporter, key, parsed, int(self._clock()))


@dataclass(frozen=True, slots=True)
class SourceQuality:
    """One source's outcome tally and its live contributions (volume)."""

    source: str
    tally: SourceTally
    live_contributions: int


class QualityReader(Protocol):
    def source_tallies(self) -> dict[str, SourceTally]: ...

    def live_contributions_by_source(self, now: int) -> dict[str, int]: ...


def quality_report(store: QualityReader, now: int) -> list[SourceQuality]:
    """Every source with outcomes or live contributions, by source id."""
    tallies = store.source_tallies()
    volumes = store.live_contributions_by_source(now)
    return [
        SourceQuality(source, tallies.get(source, SourceTally()), volumes.get(source, 0))
        for source in sorted(tallies.keys() | volumes.keys())
    ]
