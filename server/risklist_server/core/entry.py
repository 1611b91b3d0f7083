"""An entry as GetEntry shows it: the live contributions behind a verdict, other sources' ids as allowed."""

from __future__ import annotations

from dataclasses import dataclass

from risklist_kernel.enums import Category, RiskLevel
from risklist_server.core.record import Record
from risklist_server.core.verdict import Verdict


@dataclass(frozen=True, slots=True)
class ShownContribution:
    """One live contribution; `source` is "" where it is withheld, `reference` "" unless `own`."""

    source: str
    own: bool
    category: Category
    level: RiskLevel
    reported_at: int
    expires_at: int
    reference: str


@dataclass(frozen=True, slots=True)
class Entry:
    verdict: Verdict
    contributions: tuple[ShownContribution, ...]
    sources_disclosed: bool


def entry_view(
    record: Record | None, verdict: Verdict, *, caller: str, disclose_sources: bool, now: int
) -> Entry:
    """The caller's view of `record` at `now`, with its `verdict` (the policy in force decided it):
    its own contributions in full, others' without reference (and without source id unless
    `disclose_sources`); newest first.
    """
    if record is None:
        return Entry(verdict, (), disclose_sources)
    shown = [
        ShownContribution(
            source=c.source if c.source == caller or disclose_sources else "",
            own=c.source == caller,
            category=c.category,
            level=c.level,
            reported_at=c.reported_at,
            expires_at=c.expires_at,
            reference=c.reference if c.source == caller else "",
        )
        for c in record
        if c.is_live(now)
    ]
    # Ordered by time, not by source: the order must not hint at withheld ids.
    shown.sort(key=lambda s: (-s.reported_at, s.category, not s.own, s.level))
    return Entry(verdict, tuple(shown), disclose_sources)
