"""The verdict: what a subject's live contributions add up to."""

from __future__ import annotations

from dataclasses import dataclass

from server.core.enums import Category, RiskLevel
from server.core.record import Record


@dataclass(frozen=True, slots=True)
class Verdict:
    """Aggregate of a record's live contributions; times are unix seconds, 0 when not listed."""

    listed: bool
    level: RiskLevel | None = None
    categories: tuple[Category, ...] = ()
    source_count: int = 0
    report_count: int = 0
    first_reported: int = 0
    last_reported: int = 0
    expires_at: int = 0


NOT_LISTED = Verdict(listed=False)


def aggregate(record: Record, now: int) -> Verdict:
    """Max level, categories, distinct sources, counts and times over unexpired contributions."""
    live = [contribution for contribution in record if contribution.is_live(now)]
    if not live:
        return NOT_LISTED
    return Verdict(
        listed=True,
        level=max(contribution.level for contribution in live),
        categories=tuple(sorted({contribution.category for contribution in live})),
        source_count=len({contribution.source for contribution in live}),
        report_count=len(live),
        first_reported=min(contribution.reported_at for contribution in live),
        last_reported=max(contribution.reported_at for contribution in live),
        expires_at=max(contribution.expires_at for contribution in live),
    )
