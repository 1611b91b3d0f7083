"""What a check answers: CheckResult, built from the server's verdict or from the local filter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from risklist.v1 import risklist_pb2 as pb

from risklist_kernel.enums import Action, Category, RiskLevel


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One subject's answer. `answered_by` says whether the local filter, the server, or the positive
    cache (a listed server answer from moments before, with that answer's request_id) decided.

    Times are unix seconds (0 when unknown). `request_id` names a server answer in the audit and
    in ReportOutcome; it is empty for answers the local filter gave (nothing was sent). A listed
    answer from the server (or the cache) also carries `outcome_token`, the proof of this hit that
    RiskListClient.report_outcome sends back, and `subject_key`, the subject's storage key (entity
    type byte + digest) it is bound to; both are empty otherwise.
    """

    listed: bool
    action: Action
    answered_by: Literal["filter", "server", "cache"]
    list_version: int
    level: RiskLevel | None = None
    categories: tuple[Category, ...] = ()
    source_count: int = 0
    report_count: int = 0
    first_reported: int = 0
    last_reported: int = 0
    expires_at: int = 0
    reason_code: str = ""
    request_id: str = ""
    outcome_token: bytes = b""
    subject_key: bytes = b""
    policy_version: str = ""
    """The version of the network policy that decided `action` (a listed server answer's; empty otherwise)."""


def not_listed(list_version: int, answered_by: Literal["filter", "server"], request_id: str = "") -> CheckResult:
    """The answer for a subject on no list."""
    return CheckResult(False, Action.ALLOW, answered_by, list_version, request_id=request_id)


def from_verdict(
    verdict: pb.Verdict, list_version: int, request_id: str, outcome_token: bytes = b"", subject_key: bytes = b""
) -> CheckResult:
    """A server verdict as a CheckResult (unknown enum values from a newer server are kept out); a listed one keeps
    its hit's `outcome_token` and the `subject_key` it is for."""
    if not verdict.listed:
        return not_listed(list_version, "server", request_id)
    known_categories = {int(category) for category in Category}
    return CheckResult(
        listed=True,
        # A server from before the policy engine sends no action: a listed subject then means review.
        action=Action(verdict.action) if verdict.action in (1, 2, 3) else Action.REVIEW,
        answered_by="server",
        list_version=list_version,
        level=RiskLevel(verdict.level) if verdict.level in (1, 2, 3, 4) else None,
        categories=tuple(Category(c) for c in verdict.categories if c in known_categories),
        source_count=verdict.source_count,
        report_count=verdict.report_count,
        first_reported=verdict.first_reported.seconds,
        last_reported=verdict.last_reported.seconds,
        expires_at=verdict.expires_at.seconds,
        reason_code=verdict.reason_code,
        request_id=request_id,
        outcome_token=outcome_token,
        subject_key=subject_key,
        policy_version=verdict.policy_version,
    )
