"""The network policy: ordered rules from a listed subject's live contributions to an action."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from risklist_kernel.enums import Action, Category, RiskLevel
from risklist_server.core.record import Contribution

DAY_SECONDS = 86_400
NOT_LISTED_REASON = "NOT_LISTED"
REASON_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
"""An upper-case token: a letter, then letters, digits or underscores; at most 64 characters."""
MAX_MIN_SOURCES = 1_000
MAX_AGE_DAYS = 36_500

PrecisionLookup = Callable[[str], "float | None"]
"""A source's precision (confirmed / (confirmed + false positive)), or None where unknown."""

UnknownPrecision = Literal["exclude", "include"]


def unknown_precision(source: str) -> float | None:
    """The precision lookup used until outcome figures exist: every source is unknown."""
    return None


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do about a subject, and the code of the rule that said so."""

    action: Action
    reason_code: str


NOT_LISTED_DECISION = Decision(Action.ALLOW, NOT_LISTED_REASON)


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: an action for subjects whose qualifying contributions come from enough sources.

    A contribution qualifies when it passes every condition that is set: its category is one
    of `categories`, its level is at least `min_level`, it was reported within `max_age_days`,
    and its source's precision is at least `min_source_precision` (a source of unknown
    precision qualifies only with `unknown_precision = "include"`). The rule matches when the
    qualifying contributions come from at least `min_sources` distinct sources.
    """

    action: Action
    reason_code: str
    categories: frozenset[Category] | None = None
    min_level: RiskLevel = RiskLevel.LOW
    min_sources: int = 1
    max_age_days: int | None = None
    min_source_precision: float | None = None
    unknown_precision: UnknownPrecision = "exclude"
    allow_single_source: bool = False

    def __post_init__(self) -> None:
        problem = self.problem()
        if problem is not None:
            raise ValueError(problem)

    def problem(self) -> str | None:
        """Why this rule is not allowed (the poisoning defence among others), or None."""
        if not REASON_CODE.fullmatch(self.reason_code):
            return (f"reason_code {self.reason_code!r} must be an upper-case token such as "
                    "BLOCK_MULTI_SOURCE (A-Z, 0-9, _; starting with a letter; at most 64 characters)")
        if self.reason_code == NOT_LISTED_REASON:
            return f"reason_code {NOT_LISTED_REASON} is reserved for subjects that are not listed"
        if self.categories is not None and not self.categories:
            return "categories must name at least one category (leave it out to match any)"
        if not 1 <= self.min_sources <= MAX_MIN_SOURCES:
            return f"min_sources must be a whole number from 1 to {MAX_MIN_SOURCES}"
        if self.max_age_days is not None and not 1 <= self.max_age_days <= MAX_AGE_DAYS:
            return f"max_age_days must be a whole number of days from 1 to {MAX_AGE_DAYS}"
        if self.min_source_precision is not None and not 0.0 <= self.min_source_precision <= 1.0:
            return "min_source_precision must be a number from 0.0 to 1.0"
        if self.action is Action.BLOCK and self.min_sources < 2 and not self.allow_single_source:
            return ("a BLOCK rule that one source can satisfy needs allow_single_source = true "
                    "(poisoning defence: one member's report alone must not block); "
                    "set min_sources = 2 or more, or say allow_single_source = true explicitly")
        return None

    @property
    def decision(self) -> Decision:
        return Decision(self.action, self.reason_code)

    def matches(self, live: Sequence[Contribution], now: int, precision: PrecisionLookup) -> bool:
        """Whether the qualifying contributions among `live` come from min_sources sources."""
        cutoff = None if self.max_age_days is None else now - self.max_age_days * DAY_SECONDS
        sources: set[str] = set()
        for contribution in live:
            if contribution.level < self.min_level:
                continue
            if self.categories is not None and contribution.category not in self.categories:
                continue
            if cutoff is not None and contribution.reported_at < cutoff:
                continue
            if contribution.source in sources:
                continue
            if self.min_source_precision is not None and not self._precise(contribution.source, precision):
                continue
            sources.add(contribution.source)
            if len(sources) >= self.min_sources:
                return True
        return False

    def _precise(self, source: str, precision: PrecisionLookup) -> bool:
        known = precision(source)
        if known is None:
            return self.unknown_precision == "include"
        return self.min_source_precision is not None and known >= self.min_source_precision


@dataclass(frozen=True, slots=True)
class Policy:
    """Rules in order (the first that matches decides), then the default for listed subjects.

    `default` is a rule without conditions, so a BLOCK default also needs allow_single_source.
    `version` names the policy in logs (a hash of its file); `origin` is its file or "built-in".
    """

    rules: tuple[Rule, ...]
    default: Rule
    version: str = "built-in"
    origin: str = "built-in"

    def __post_init__(self) -> None:
        if self.default != Rule(self.default.action, self.default.reason_code,
                                allow_single_source=self.default.allow_single_source):
            raise ValueError("the default takes only action, reason_code and allow_single_source")

    def decide(
        self, live: Sequence[Contribution], now: int, precision: PrecisionLookup = unknown_precision
    ) -> Decision:
        """The first matching rule's decision; the default when none matches; ALLOW/NOT_LISTED
        when nothing is live. `live` holds only the contributions that count at `now`."""
        if not live:
            return NOT_LISTED_DECISION
        for rule in self.rules:
            if rule.matches(live, now, precision):
                return rule.decision
        return self.default.decision


DEFAULT_POLICY = Policy(
    rules=(
        Rule(Action.BLOCK, "BLOCK_MULTI_SOURCE", min_level=RiskLevel.HIGH, min_sources=2, max_age_days=365),
        Rule(Action.REVIEW, "REVIEW_HIGH_RISK", min_level=RiskLevel.HIGH),
    ),
    default=Rule(Action.REVIEW, "REVIEW_LISTED"),
)
"""Used without --policy; docs/policy.md shows it as a file (a test keeps the two equal)."""
