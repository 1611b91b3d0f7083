"""The verdict: what a subject's live contributions add up to, and what the policy says to do."""

from __future__ import annotations

from dataclasses import dataclass

from risklist_kernel.enums import Action, Category, RiskLevel
from risklist_server.core.policy import DEFAULT_POLICY, NOT_LISTED_REASON, Policy, PrecisionLookup, unknown_precision
from risklist_server.core.record import Record


@dataclass(frozen=True, slots=True)
class Verdict:
    """Aggregate of a record's live contributions; times are unix seconds, 0 when not listed.

    `action` and `reason_code` are the policy's decision: ALLOW / NOT_LISTED when not listed;
    `policy_version` names the policy that decided (empty when not listed: no policy decides that).
    """

    listed: bool
    level: RiskLevel | None = None
    categories: tuple[Category, ...] = ()
    source_count: int = 0
    report_count: int = 0
    first_reported: int = 0
    last_reported: int = 0
    expires_at: int = 0
    action: Action = Action.ALLOW
    reason_code: str = NOT_LISTED_REASON
    policy_version: str = ""


NOT_LISTED = Verdict(listed=False)


def aggregate(
    record: Record, now: int, policy: Policy = DEFAULT_POLICY, precision: PrecisionLookup = unknown_precision
) -> Verdict:
    """Max level, categories, distinct sources, counts and times over unexpired contributions,
    and `policy`'s decision about them (serving code passes the live policy: services/lookup.py)."""
    live = [contribution for contribution in record if contribution.is_live(now)]
    if not live:
        return NOT_LISTED
    decision = policy.decide(live, now, precision)
    return Verdict(
        listed=True,
        level=max(contribution.level for contribution in live),
        categories=tuple(sorted({contribution.category for contribution in live})),
        source_count=len({contribution.source for contribution in live}),
        report_count=len(live),
        first_reported=min(contribution.reported_at for contribution in live),
        last_reported=max(contribution.reported_at for contribution in live),
        expires_at=max(contribution.expires_at for contribution in live),
        action=decision.action,
        reason_code=decision.reason_code,
        policy_version=policy.version,
    )
