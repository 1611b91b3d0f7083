"""Tests for risklist_loader.timestamps: ISO 8601 with offsets, plain dates, and what is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from risklist_loader.timestamps import LATEST, format_timestamp, parse_timestamp


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-01T08:00:00+08:00", datetime(2026, 3, 1, tzinfo=UTC)),
        ("2026-03-01T00:00:00Z", datetime(2026, 3, 1, tzinfo=UTC)),
        ("2026-03-01 00:00:00+00:00", datetime(2026, 3, 1, tzinfo=UTC)),
        ("2026-03-01", datetime(2026, 3, 1, tzinfo=UTC)),
        ("  2026-03-01  ", datetime(2026, 3, 1, tzinfo=UTC)),
        ("2026-02-28T23:59:59.999-05:00", datetime(2026, 3, 1, 4, 59, 59, tzinfo=UTC)),
    ],
)
def test_accepted_forms(text: str, expected: datetime) -> None:
    """Offsets, Z, a space separator and plain dates all give the right unix second."""
    assert parse_timestamp(text) == int(expected.timestamp())


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2026-03-01T08:00:00", "without a UTC offset"),
        ("2026-02-30", "not a real calendar date"),
        ("01/03/2026", "not an ISO 8601"),
        ("20260301", "not an ISO 8601"),
        ("2026-03-01T25:00:00Z", "not an ISO 8601 date-time"),
        ("1969-12-31T23:59:59Z", "before 1970"),
        ("", "not an ISO 8601"),
    ],
)
def test_refused_forms(text: str, reason: str) -> None:
    """Naive date-times, impossible dates, other layouts and pre-epoch times are refused."""
    with pytest.raises(ValueError, match=reason):
        parse_timestamp(text)


def test_reasons_never_echo_the_value() -> None:
    """A refused value is not repeated in the reason (it might be misplaced data)."""
    with pytest.raises(ValueError) as caught:
        parse_timestamp("13800138000")
    assert "13800138000" not in str(caught.value)


def test_latest_timestamp_accepted_and_beyond_refused() -> None:
    """9999-12-31T23:59:59Z is the last second accepted; an offset pushing past it is refused."""
    assert parse_timestamp("9999-12-31T23:59:59Z") == LATEST
    with pytest.raises(ValueError, match="after 9999"):
        parse_timestamp("9999-12-31T23:59:59-01:00")


@given(
    st.integers(min_value=0, max_value=LATEST - 86_400),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_round_trip_through_any_offset(seconds: int, offset_minutes: int) -> None:
    """A unix second rendered in any offset (or as Z) parses back to itself."""
    zone = timezone(timedelta(minutes=offset_minutes))
    rendered = datetime.fromtimestamp(seconds, zone).isoformat()
    assert parse_timestamp(rendered) == seconds
    assert parse_timestamp(format_timestamp(seconds)) == seconds
