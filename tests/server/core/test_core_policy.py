"""Policy evaluation against a hand-written model: first match, poisoning defence, precision."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risklist_kernel.enums import Action, Category, RiskLevel
from risklist_server.core.policy import DAY_SECONDS, DEFAULT_POLICY, NOT_LISTED_DECISION, Decision, Policy, Rule
from risklist_server.core.policy_file import parse_policy
from risklist_server.core.record import Contribution
from tests.docs.blocks import read_blocks
from tests.support.paths import REPO

NOW = 1_800_000_000
SOURCES = ["east-harbour-bank", "jade-river-bank", "north-plains-credit", "south-gate-bank"]
PRECISIONS: dict[str, float | None] = {
    "east-harbour-bank": 0.95, "jade-river-bank": 0.5, "north-plains-credit": None, "south-gate-bank": None,
}
DOCS = REPO / "docs" / "policy.md"

LIVE = st.lists(
    st.builds(
        Contribution,
        source=st.sampled_from(SOURCES),
        category=st.sampled_from(list(Category)),
        level=st.sampled_from(list(RiskLevel)),
        reported_at=st.integers(min_value=NOW - 400 * DAY_SECONDS, max_value=NOW),
        expires_at=st.just(NOW + DAY_SECONDS),
    ),
    max_size=8,
    unique_by=lambda c: c.identity,
)


@st.composite
def rules(draw: st.DrawFn) -> Rule:
    """Any valid rule: a BLOCK one-source rule only with allow_single_source."""
    action = draw(st.sampled_from(list(Action)))
    min_sources = draw(st.integers(min_value=1, max_value=3))
    fields: dict[str, Any] = {
        "action": action,
        "reason_code": draw(st.sampled_from(["R_A", "R_B", "R_C", "BLOCK_X", "REVIEW_Y"])),
        "categories": draw(st.none() | st.frozensets(st.sampled_from(list(Category)), min_size=1, max_size=3)),
        "min_level": draw(st.sampled_from(list(RiskLevel))),
        "min_sources": min_sources,
        "max_age_days": draw(st.none() | st.integers(min_value=1, max_value=500)),
        "min_source_precision": draw(st.none() | st.sampled_from([0.0, 0.5, 0.9, 1.0])),
        "unknown_precision": draw(st.sampled_from(["exclude", "include"])),
        "allow_single_source": draw(st.booleans()) or (action is Action.BLOCK and min_sources < 2),
    }
    return Rule(**fields)


POLICIES = st.builds(
    Policy,
    rules=st.lists(rules(), max_size=5).map(tuple),
    default=st.builds(Rule, action=st.sampled_from([Action.ALLOW, Action.REVIEW]),
                      reason_code=st.just("DEFAULT_LISTED")),
)


def qualifying_sources(rule: Rule, live: list[Contribution], now: int) -> set[str]:
    """The model: sources of the contributions that pass every condition the rule sets."""
    sources = set()
    for c in live:
        if rule.categories is not None and c.category not in rule.categories:
            continue
        if int(c.level) < int(rule.min_level):
            continue
        if rule.max_age_days is not None and now - c.reported_at > rule.max_age_days * DAY_SECONDS:
            continue
        if rule.min_source_precision is not None:
            known = PRECISIONS[c.source]
            if known is None and rule.unknown_precision == "exclude":
                continue
            if known is not None and known < rule.min_source_precision:
                continue
        sources.add(c.source)
    return sources


def model_rule(policy: Policy, live: list[Contribution], now: int) -> Rule | None:
    """The first rule whose qualifying sources reach min_sources, or None (the default applies)."""
    return next((r for r in policy.rules if len(qualifying_sources(r, live, now)) >= r.min_sources), None)


@settings(max_examples=400, deadline=None)
@given(policy=POLICIES, live=LIVE)
def test_decision_is_the_first_matching_rule_in_order(policy: Policy, live: list[Contribution]) -> None:
    """The first rule (in file order) whose conditions hold decides; none holding, the default does."""
    decision = policy.decide(live, NOW, PRECISIONS.get)
    if not live:
        assert decision == NOT_LISTED_DECISION
        return
    expected = model_rule(policy, live, NOW) or policy.default
    assert decision == expected.decision


@settings(max_examples=200, deadline=None)
@given(policy=POLICIES)
def test_nothing_live_is_always_allow_not_listed(policy: Policy) -> None:
    """With no live contribution every policy answers ALLOW / NOT_LISTED."""
    assert policy.decide([], NOW) == Decision(Action.ALLOW, "NOT_LISTED")


@settings(max_examples=400, deadline=None)
@given(policy=POLICIES, live=LIVE, source=st.sampled_from(SOURCES))
def test_one_source_never_blocks_without_allow_single_source(
    policy: Policy, live: list[Contribution], source: str
) -> None:
    """A subject reported by one member only is BLOCKed only by a rule saying allow_single_source."""
    alone = [c for c in live if c.source == source]
    decision = policy.decide(alone, NOW, PRECISIONS.get)
    if decision.action is Action.BLOCK:
        deciding = model_rule(policy, alone, NOW) or policy.default
        assert deciding.allow_single_source


def test_block_rule_one_source_can_satisfy_is_refused() -> None:
    """A BLOCK rule (or default) one source can satisfy cannot be built without allow_single_source."""
    with pytest.raises(ValueError, match="allow_single_source = true"):
        Rule(Action.BLOCK, "BLOCK_ONE", min_sources=1)
    assert Rule(Action.BLOCK, "BLOCK_ONE", allow_single_source=True).allow_single_source
    with pytest.raises(ValueError, match="allow_single_source"):
        Policy((), default=Rule(Action.BLOCK, "BLOCK_ALL"))


def test_recency_counts_only_reports_within_max_age_days() -> None:
    """A report older than max_age_days does not count towards min_sources."""
    rule = Rule(Action.BLOCK, "BLOCK_RECENT", min_sources=2, max_age_days=30)
    fresh = Contribution("east-harbour-bank", Category.MONEY_MULE, RiskLevel.HIGH, NOW - 10 * DAY_SECONDS, NOW + 1)
    old = Contribution("jade-river-bank", Category.MONEY_MULE, RiskLevel.HIGH, NOW - 31 * DAY_SECONDS, NOW + 1)
    recent = Contribution("jade-river-bank", Category.MONEY_MULE, RiskLevel.HIGH, NOW - 30 * DAY_SECONDS, NOW + 1)
    assert not rule.matches([fresh, old], NOW, PRECISIONS.get)
    assert rule.matches([fresh, recent], NOW, PRECISIONS.get)


def test_conditions_apply_to_the_same_contribution() -> None:
    """A low report of the category and a critical report of another do not add up to 'critical mule'."""
    rule = Rule(Action.BLOCK, "BLOCK_MULE", categories=frozenset({Category.MONEY_MULE}),
                min_level=RiskLevel.CRITICAL, min_sources=2)
    live = [Contribution("east-harbour-bank", Category.MONEY_MULE, RiskLevel.LOW, NOW, NOW + 1),
            Contribution("jade-river-bank", Category.GAMBLING, RiskLevel.CRITICAL, NOW, NOW + 1),
            Contribution("north-plains-credit", Category.MONEY_MULE, RiskLevel.CRITICAL, NOW, NOW + 1)]
    assert not rule.matches(live, NOW, PRECISIONS.get)


@pytest.mark.parametrize(
    ("unknown", "precision", "matches"),
    [
        ("exclude", {"east-harbour-bank": 0.9, "jade-river-bank": None}, False),
        ("include", {"east-harbour-bank": 0.9, "jade-river-bank": None}, True),
        ("include", {"east-harbour-bank": 0.9, "jade-river-bank": 0.79}, False),
        ("exclude", {"east-harbour-bank": 0.9, "jade-river-bank": 0.8}, True),
    ],
)
def test_min_source_precision_counts_precise_sources_and_unknown_per_key(
    unknown: str, precision: dict[str, float | None], matches: bool
) -> None:
    """Sources below min_source_precision never count; unknown ones count only with unknown_precision = include."""
    rule = Rule(Action.BLOCK, "BLOCK_TRUSTED", min_sources=2, min_source_precision=0.8,
                unknown_precision=unknown)  # type: ignore[arg-type]
    live = [Contribution(source, Category.OTHER, RiskLevel.LOW, NOW, NOW + 1) for source in precision]
    assert rule.matches(live, NOW, precision.get) is matches


def test_the_built_in_policy_is_the_one_docs_show() -> None:
    """docs/policy.md's 'built-in policy' TOML block parses to exactly DEFAULT_POLICY's rules and default."""
    text = DOCS.read_text(encoding="utf-8")
    found = re.search(r"<!-- built-in policy -->\s*```toml\n(.*?)```", text, re.DOTALL)
    assert found, "docs/policy.md lost its built-in policy block"
    parsed = parse_policy(found.group(1).encode(), origin="docs/policy.md")
    assert (parsed.rules, parsed.default) == (DEFAULT_POLICY.rules, DEFAULT_POLICY.default)


def test_every_policy_example_in_the_docs_parses() -> None:
    """Each TOML example docs/policy.md marks as a policy is a valid policy file (the one it shows refused is
    marked as a file: tests/docs runs the check that refuses it)."""
    blocks = [block for block in read_blocks(DOCS) if block.language == "toml"]
    assert len([block for block in blocks if block.kind == "policy"]) >= 3
    for block in blocks:
        if block.kind == "policy":
            parse_policy(block.text.encode(), origin=block.where)
        else:
            assert (block.kind, block.argument) == ("file", "/etc/risklist/policy.toml"), block.where
