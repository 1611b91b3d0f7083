"""Taking partners' outcomes of hits (each proven by its hit's outcome token), and the per-source quality figures
built from them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from risklist_kernel.enums import Outcome
from risklist_server.core.errors import InvalidSubject, InvalidSubjects, OutcomeNotProven, StoreError
from risklist_server.core.hit_token import REQUEST_ID_PATTERN, OutcomeWindow, token_matches
from risklist_server.core.outcome import SourceTally
from risklist_server.core.settings import DAY_SECONDS
from risklist_server.core.subject import Subject, SubjectResolver

DEFAULT_WINDOW = OutcomeWindow(30 * DAY_SECONDS)


class OutcomeWriter(Protocol):
    """Where outcomes are recorded: the store's single writer, which also holds the outcome key."""

    def record_outcome(self, reporter: str, key: bytes, outcome: Outcome, now: int) -> int: ...

    def outcome_key(self) -> bytes | None: ...


class OutcomeService:
    """Validates a ReportOutcome, checks its proof of a hit, and records it; tests call it without a network.

    An outcome is taken only with the outcome token the server gave `reporter` for `subject` in
    the answer `hit_request_id`, issued within `window` of now. The check reads nothing from the
    store but its key, so a refusal says nothing about whether the subject is listed.
    """

    def __init__(
        self, resolver: SubjectResolver, writer: OutcomeWriter, *, window: OutcomeWindow = DEFAULT_WINDOW,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._resolver = resolver
        self._writer = writer
        self._window = window
        self._clock = clock

    def report(self, reporter: str, hit_request_id: str, subject: Subject, outcome: int, hit_token: bytes) -> int:
        """Record `reporter`'s outcome for `subject` in answer `hit_request_id`, proven by `hit_token`; return the
        sources credited. InvalidSubjects for a malformed request, OutcomeNotProven for a missing or wrong proof."""
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
        now = int(self._clock())
        self._require_proof(reporter, hit_request_id, key, hit_token, now)
        return self._writer.record_outcome(reporter, key, parsed, now)

    def _require_proof(self, reporter: str, request_id: str, key: bytes, token: bytes, now: int) -> None:
        """Raise OutcomeNotProven unless `token` proves the hit on `key` in answer `request_id` to `reporter`."""
        days = f"{self._window.days:g} days"
        what_to_send = (f"send the outcome_token of the result that hit (CheckResponse.outcome_token, or the Hit's "
                        f"in BatchCheck and StreamCheck answers) as hit_token, with that answer's request_id as "
                        f"hit_request_id and the subject as it was checked, within {days} of the answer. "
                        "Nothing was recorded")
        if not token:
            raise OutcomeNotProven(f"hit_token is missing: an outcome is taken only for a hit the server answered "
                                   f"you; {what_to_send}")
        if not self._window.admits(request_id, now):
            raise OutcomeNotProven(f"hit_request_id names no answer of the last {days} (outcomes are taken "
                                   f"within {days} of the answer that hit); {what_to_send}")
        outcome_key = self._writer.outcome_key()
        if outcome_key is None:
            raise StoreError("the store has no outcome key, so no outcome can be verified; retry once the "
                             "server's writer has reopened the store")
        if not token_matches(outcome_key, reporter, request_id, key, token):
            raise OutcomeNotProven(f"hit_token is not the outcome token the server gave you for this subject in "
                                   f"the answer hit_request_id names; {what_to_send}")


@dataclass(frozen=True, slots=True)
class SourceQuality:
    """One source's tally of verified outcomes, its live contributions (volume), and the outcomes recorded before
    outcomes were verified (`legacy`: shown apart, never used by the policy)."""

    source: str
    tally: SourceTally
    live_contributions: int
    legacy: SourceTally = SourceTally()


class QualityReader(Protocol):
    def source_tallies(self) -> dict[str, SourceTally]: ...

    def legacy_source_tallies(self) -> dict[str, SourceTally]: ...

    def live_contributions_by_source(self, now: int) -> dict[str, int]: ...


def quality_report(store: QualityReader, now: int) -> list[SourceQuality]:
    """Every source with outcomes (verified or legacy) or live contributions, by source id."""
    tallies = store.source_tallies()
    legacy = store.legacy_source_tallies()
    volumes = store.live_contributions_by_source(now)
    return [
        SourceQuality(source, tallies.get(source, SourceTally()), volumes.get(source, 0),
                      legacy.get(source, SourceTally()))
        for source in sorted(tallies.keys() | legacy.keys() | volumes.keys())
    ]
