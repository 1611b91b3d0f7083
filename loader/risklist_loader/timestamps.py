"""Feed timestamps: ISO 8601 with an offset, or a plain date meaning midnight UTC."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from risklist_server.core.contribution_rules import EARLIEST as EARLIEST

LATEST = 253_402_300_799
"""9999-12-31T23:59:59Z, the last second a protobuf Timestamp can carry."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PLAIN_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_EXAMPLE = "e.g. 2026-03-01T08:00:00+08:00, 2026-03-01T00:00:00Z or 2026-03-01"


def parse_timestamp(text: str) -> int:
    """Unix seconds (fractions dropped); raise ValueError saying what is wrong, never echoing it."""
    stripped = text.strip()
    if _PLAIN_DATE.fullmatch(stripped):
        try:
            day = date.fromisoformat(stripped)
        except ValueError:
            raise ValueError(f"not a real calendar date ({_EXAMPLE})") from None
        moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
    else:
        if len(stripped) < 11 or stripped[10] not in "Tt ":
            raise ValueError(f"not an ISO 8601 date or date-time ({_EXAMPLE})")
        try:
            moment = datetime.fromisoformat(stripped)
        except ValueError:
            raise ValueError(f"not an ISO 8601 date-time ({_EXAMPLE})") from None
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(
                "a date-time without a UTC offset is ambiguous; add Z or an offset such as +08:00"
            )
    seconds = (moment - _EPOCH) // timedelta(seconds=1)
    if seconds < EARLIEST:
        raise ValueError("before 1970-01-01")
    if seconds > LATEST:
        raise ValueError("after 9999-12-31")
    return seconds


def format_timestamp(seconds: int) -> str:
    """The canonical text of unix seconds: ISO 8601 in UTC with a Z, as summaries show it."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
