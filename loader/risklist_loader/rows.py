"""Feed rows as the readers yield them: field values by name, or why the row is unreadable."""

from __future__ import annotations

from dataclasses import dataclass

from risklist_loader.rejects import Reject

FIELDS = (
    "action",
    "entity_type",
    "identifier",
    "category",
    "level",
    "reported_at",
    "expires_at",
    "reference",
)
"""Every field a feed row may carry, in the order docs/feeds.md lists them."""

REQUIRED_COLUMNS = ("action", "entity_type", "identifier")
"""Columns every CSV feed must have (add rows need category, level, reported_at too)."""

ADD_COLUMNS = ("category", "level", "reported_at")
"""Columns a CSV feed with add rows must have; remove-only feeds may omit them."""

EXPECTED_HEADER = ",".join(FIELDS)


@dataclass(frozen=True, slots=True)
class FeedRow:
    """A structurally sound row: values by lower-case field name (str, or int/None from JSON)."""

    line: int
    values: dict[str, object]


@dataclass(frozen=True, slots=True)
class BadRow:
    """A row that could not be read at all; `truncated` when it is a cut-off last line."""

    line: int
    rejects: tuple[Reject, ...]
    truncated: bool = False


ReadRow = FeedRow | BadRow
