"""Verdict aggregation against a plain model, expiry included."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from risklist_kernel.enums import Action, Category, RiskLevel
from risklist_server.core.policy import DEFAULT_POLICY
from risklist_server.core.record import Contribution
from risklist_server.core.verdict import NOT_LISTED, Verdict, aggregate

NOW = 1_800_000_000
TIMES = st.integers(min_value=NOW - 10_000, max_value=NOW + 10_000)
CONTRIBUTIONS = st.builds(
    Contribution,
    source=st.sampled_from(["east-harbour-bank", "jade-river-bank", "north-plains-credit"]),
    category=st.sampled_from(list(Category)),
    level=st.sampled_from(list(RiskLevel)),
    reported_at=TIMES,
    expires_at=TIMES,
    reference=st.just(""),
)
RECORDS = st.lists(CONTRIBUTIONS, max_size=8, unique_by=lambda c: c.identity).map(
    lambda items: tuple(sorted(items))
)


def model(record: tuple[Contribution, ...], now: int) -> Verdict:
    """The verdict written out by hand: only contributions with now < expires_at count (the
    decision is the default policy's, tested on its own in test_core_policy.py)."""
    live = [c for c in record if now < c.expires_at]
    if not live:
        return Verdict(listed=False)
    levels = [c.level for c in live]
    sources: list[str] = []
    categories: list[Category] = []
    for c in live:
        if c.source not in sources:
            sources.append(c.source)
        if c.category not in categories:
            categories.append(c.category)
    return Verdict(
        listed=True,
        level=RiskLevel(max(int(level) for level in levels)),
        categories=tuple(sorted(categories, key=int)),
        source_count=len(sources),
        report_count=len(live),
        first_reported=min(c.reported_at for c in live),
        last_reported=max(c.reported_at for c in live),
        expires_at=max(c.expires_at for c in live),
        action=DEFAULT_POLICY.decide(live, now).action,
        reason_code=DEFAULT_POLICY.decide(live, now).reason_code,
        policy_version=DEFAULT_POLICY.version,
    )


@settings(max_examples=300, deadline=None)
@given(record=RECORDS, now=TIMES)
def test_aggregate_matches_the_model(record: tuple[Contribution, ...], now: int) -> None:
    """aggregate() equals the hand-written model for any record and any moment."""
    assert aggregate(record, now) == model(record, now)


@settings(max_examples=200, deadline=None)
@given(record=RECORDS, now=TIMES, expired=st.lists(CONTRIBUTIONS, max_size=4))
def test_expired_contributions_never_count(
    record: tuple[Contribution, ...], now: int, expired: list[Contribution]
) -> None:
    """Adding contributions that expired at or before `now` never changes the verdict."""
    dead = [
        Contribution(
            f"x-{c.source}", c.category, RiskLevel.CRITICAL, c.reported_at, min(c.expires_at, now)
        )
        for c in expired
    ]
    assert aggregate(tuple(sorted((*record, *dead))), now) == aggregate(record, now)


def test_not_listed_when_empty_or_all_expired() -> None:
    """An empty record and a record whose contributions all expired give NOT_LISTED."""
    old = Contribution("east-harbour-bank", Category.GAMBLING, RiskLevel.HIGH, NOW - 100, NOW)
    assert aggregate((), NOW) == NOT_LISTED
    assert aggregate((old,), NOW) == NOT_LISTED
    assert not NOT_LISTED.listed and NOT_LISTED.level is None
    assert (NOT_LISTED.action, NOT_LISTED.reason_code) == (Action.ALLOW, "NOT_LISTED")


def test_two_sources_aggregate() -> None:
    """Two banks' reports give the max level, both categories, two sources, the time span, and
    (two sources at HIGH or above) the default policy's BLOCK."""
    record = (
        Contribution(
            "east-harbour-bank", Category.TELECOM_FRAUD, RiskLevel.CRITICAL, NOW - 50, NOW + 500
        ),
        Contribution("jade-river-bank", Category.MONEY_MULE, RiskLevel.HIGH, NOW - 90, NOW + 900),
        Contribution("jade-river-bank", Category.TELECOM_FRAUD, RiskLevel.LOW, NOW - 10, NOW + 100),
    )
    assert aggregate(record, NOW) == Verdict(
        listed=True,
        level=RiskLevel.CRITICAL,
        categories=(Category.TELECOM_FRAUD, Category.MONEY_MULE),
        source_count=2,
        report_count=3,
        first_reported=NOW - 90,
        last_reported=NOW - 10,
        expires_at=NOW + 900,
        action=Action.BLOCK,
        reason_code="BLOCK_MULTI_SOURCE",
        policy_version="built-in",
    )


def test_a_listed_verdict_names_the_policy_that_decided_it() -> None:
    """A listed verdict carries the deciding policy's version; a not-listed one names none (no policy decides it)."""
    record = (Contribution("east-harbour-bank", Category.GAMBLING, RiskLevel.LOW, NOW - 50, NOW + 500),)
    pushed = replace(DEFAULT_POLICY, version="0123456789ab")
    assert aggregate(record, NOW, pushed).policy_version == "0123456789ab"
    assert aggregate((), NOW, pushed).policy_version == ""
