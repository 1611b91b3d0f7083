"""What makes a contribution valid, once for every way in (feed, fast feed path, Report, Admin.Ingest).

Each check returns None or a Problem naming the field and a reason a partner can act on; the
paths turn problems into their own errors (a rejects-file line, a BadRequest violation).
"""

from __future__ import annotations

import unicodedata
from typing import NamedTuple

from risklist_kernel.enums import Category, RiskLevel
from risklist_server.core.settings import DAY_SECONDS

MAX_REFERENCE_LENGTH = 64
"""Longest reference, in characters (after surrounding whitespace is dropped)."""

MAX_EXPIRY_DAYS = 36_500
"""An expires_at further than this (100 years) after reported_at is taken for a unit or year mistake."""

FUTURE_TOLERANCE_SECONDS = 86_400
"""reported_at may lie at most this far ahead of the receiver's clock (time zones, skew)."""

EARLIEST = 0
"""1970-01-01T00:00:00Z: nothing is reported before the epoch."""

LEVEL_NAMES = "low|medium|high|critical or 1-4"
"""What a feed's level accepts, as messages say it."""


class Problem(NamedTuple):
    """What is wrong: the field at fault and why, in words a partner can act on."""

    field: str
    reason: str


def clean_reference(text: str) -> str:
    """The reference as stored: surrounding whitespace dropped (every path; feeds pad their cells)."""
    return text.strip()


def reference_problem(reference: str) -> Problem | None:
    """A cleaned reference is at most MAX_REFERENCE_LENGTH characters, none of them control,
    format, private-use, surrogate or unassigned (Unicode category C)."""
    if len(reference) > MAX_REFERENCE_LENGTH:
        return Problem("reference", f"{len(reference)} characters; at most {MAX_REFERENCE_LENGTH}")
    if not (reference.isascii() and reference.isprintable()) and any(
            unicodedata.category(ch).startswith("C") for ch in reference):
        return Problem("reference", "control or unassigned characters are not allowed")
    return None


def reported_at_problem(reported_at: int, now: int) -> Problem | None:
    """reported_at lies between the epoch and a day ahead of `now`."""
    if reported_at < EARLIEST:
        return Problem("reported_at", "before 1970-01-01")
    if reported_at > now + FUTURE_TOLERANCE_SECONDS:
        return Problem("reported_at", "more than a day in the future; check the time and offset")
    return None


def expires_at_problem(reported_at: int, expires_at: int, *, reported_now: bool = False) -> Problem | None:
    """expires_at lies after reported_at, and at most MAX_EXPIRY_DAYS after it.

    `reported_now`: reported_at is the receiver's clock (Report), so the reasons speak of "now".
    """
    if expires_at <= reported_at:
        if reported_now:
            return Problem("expires_at", "must be in the future; leave it unset for the category's "
                                         "default retention")
        return Problem("expires_at", "must be after reported_at")
    if expires_at > reported_at + MAX_EXPIRY_DAYS * DAY_SECONDS:
        if reported_now:
            return Problem("expires_at", f"more than {MAX_EXPIRY_DAYS} days ahead; give unix seconds")
        return Problem("expires_at", f"more than {MAX_EXPIRY_DAYS} days after reported_at; check the year "
                                     "(and, on the wire, that it is unix seconds)")
    return None


def category_from_number(number: int) -> Category | Problem:
    """The category of a wire number (the proto enum's), or why not."""
    try:
        return Category(number)
    except ValueError:
        return Problem("category", _unknown_number("category", number, Category))


def level_from_number(number: int) -> RiskLevel | Problem:
    """The risk level of a wire number (the proto enum's), or why not."""
    try:
        return RiskLevel(number)
    except ValueError:
        return Problem("level", _unknown_number("level", number, RiskLevel))


def category_from_name(text: str) -> Category | None:
    """The category a feed names (any case, surrounding spaces), or None."""
    try:
        return Category.from_feed_name(text)
    except ValueError:
        return None


def level_from_name(text: str) -> RiskLevel | None:
    """The risk level a feed names (low|medium|high|critical, any case, or 1-4), or None."""
    try:
        return RiskLevel.parse(text)
    except ValueError:
        return None


def _unknown_number(field: str, number: int, kind: type[Category] | type[RiskLevel]) -> str:
    return (f"{field} {number} is unspecified or unknown; "
            f"one of {', '.join(f'{m.value} ({m.feed_name})' for m in kind)}")
