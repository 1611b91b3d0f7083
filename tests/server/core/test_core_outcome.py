"""Outcome entries and per-source tallies: codecs, crediting, and revisions that never count twice."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from risklist_kernel.enums import Category, Outcome, RiskLevel
from risklist_server.core.errors import InvalidRecord
from risklist_server.core.outcome import OutcomeEntry, SourceTally, credited_sources, record_outcome
from risklist_server.core.record import Contribution

sources = st.lists(st.text(min_size=1, max_size=64), unique=True, max_size=5).map(lambda s: tuple(sorted(s)))
outcomes = st.sampled_from(list(Outcome))


@given(st.builds(OutcomeEntry, outcome=outcomes, credited=sources))
def test_outcome_entry_round_trips(entry: OutcomeEntry) -> None:
    """An encoded outcome entry decodes to itself."""
    assert OutcomeEntry.decode(entry.encode()) == entry


@given(st.tuples(*[st.integers(0, 2**64 - 1)] * 4))
def test_source_tally_round_trips(counts: tuple[int, int, int, int]) -> None:
    """An encoded tally decodes to itself."""
    tally = SourceTally(*counts)
    assert SourceTally.decode(tally.encode()) == tally


def test_damaged_outcome_entry_is_reported() -> None:
    """A truncated or unknown-version entry raises InvalidRecord, not a crash."""
    data = OutcomeEntry(Outcome.FALSE_POSITIVE, ("bank-a",)).encode()
    with pytest.raises(InvalidRecord):
        OutcomeEntry.decode(data[:-2])
    with pytest.raises(InvalidRecord):
        OutcomeEntry.decode(b"\x09" + data[1:])
    with pytest.raises(InvalidRecord):
        SourceTally.decode(b"\x00" * 7)


def test_precision_is_confirmed_over_decided_outcomes() -> None:
    """Precision counts confirmed and false positives only; unknown until one of them exists."""
    assert SourceTally(customer_explained=3, unknown=2).precision is None
    assert SourceTally(confirmed_fraud=3, false_positive=1, unknown=5).precision == 0.75


def test_reporter_is_not_credited_and_expired_contributions_do_not_count() -> None:
    """A partner's outcome grades the other live sources, never itself."""
    def contribution(source: str, expires_at: int) -> Contribution:
        return Contribution(source, Category.MONEY_MULE, RiskLevel.HIGH, 100, expires_at)

    record = (contribution("bank-a", 2_000), contribution("bank-b", 2_000), contribution("bank-c", 500),
              Contribution("bank-b", Category.OTHER, RiskLevel.LOW, 100, 2_000))
    assert credited_sources(record, reporter="bank-a", now=1_000) == ("bank-b",)


@given(sources, st.lists(outcomes, min_size=1, max_size=8))
def test_revisions_leave_only_the_latest_outcome_counted(
    credited: tuple[str, ...], revisions: list[Outcome]
) -> None:
    """However often a partner revises an outcome, each credited source counts it once, as the latest."""
    tallies: dict[str, SourceTally] = {}
    previous: OutcomeEntry | None = None
    for outcome in revisions:
        previous, changes = record_outcome(previous, credited, outcome)
        for source, changed, amount in changes:
            tallies[source] = tallies.get(source, SourceTally()).plus(changed, amount)
    for source in credited:
        assert tallies[source] == SourceTally().plus(revisions[-1])
