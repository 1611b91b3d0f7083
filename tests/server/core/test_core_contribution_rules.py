"""The contribution rules themselves (server/core/contribution_rules): what passes, and the reason given when not."""

from __future__ import annotations

import pytest

from risklist_kernel.enums import Category, RiskLevel
from risklist_server.core.contribution_rules import (
    MAX_EXPIRY_DAYS,
    Problem,
    category_from_number,
    clean_reference,
    expires_at_problem,
    level_from_number,
    reference_problem,
    reported_at_problem,
)
from risklist_server.core.settings import DAY_SECONDS

NOW = 1_800_000_000


@pytest.mark.parametrize(
    ("text", "stored", "says"),
    [
        ("CASE-2026-0417", "CASE-2026-0417", None),
        ("  CASE-1\t", "CASE-1", None),
        ("案件 123", "案件 123", None),
        ("r" * 64, "r" * 64, None),
        ("r" * 65, "r" * 65, "65 characters; at most 64"),
        ("a\tb", "a\tb", "control or unassigned"),
        ("CASE\x00", "CASE\x00", "control or unassigned"),
        ("zero\u200bwidth", "zero\u200bwidth", "control or unassigned"),
    ],
)
def test_reference(text: str, stored: str, says: str | None) -> None:
    """A reference is stored without surrounding whitespace; too long or holding a control character is refused."""
    assert clean_reference(text) == stored
    problem = reference_problem(stored)
    assert (problem is None) == (says is None)
    if says is not None:
        assert problem is not None and problem.field == "reference" and says in problem.reason


def test_dates() -> None:
    """reported_at runs from 1970 to a day ahead; expires_at after it and within MAX_EXPIRY_DAYS of it."""
    assert reported_at_problem(0, NOW) is None
    assert reported_at_problem(NOW + DAY_SECONDS, NOW) is None
    assert reported_at_problem(-1, NOW) == Problem("reported_at", "before 1970-01-01")
    assert reported_at_problem(NOW + DAY_SECONDS + 1, NOW) is not None
    horizon = NOW + MAX_EXPIRY_DAYS * DAY_SECONDS
    assert expires_at_problem(NOW, NOW + 1) is None and expires_at_problem(NOW, horizon) is None
    assert expires_at_problem(NOW, NOW) == Problem("expires_at", "must be after reported_at")
    assert "future" in str(expires_at_problem(NOW, NOW, reported_now=True))
    assert "36500 days after reported_at" in str(expires_at_problem(NOW, horizon + 1))
    assert "unix seconds" in str(expires_at_problem(NOW, NOW * 1000, reported_now=True))


def test_wire_numbers() -> None:
    """Wire numbers map to their members; 0 and unknown numbers name the field and list the accepted ones."""
    assert category_from_number(2) is Category.MONEY_MULE and level_from_number(4) is RiskLevel.CRITICAL
    problem = category_from_number(0)
    assert isinstance(problem, Problem) and problem.field == "category" and "2 (money_mule)" in problem.reason
    assert level_from_number(5) == Problem("level", "level 5 is unspecified or unknown; "
                                                    "one of 1 (low), 2 (medium), 3 (high), 4 (critical)")
