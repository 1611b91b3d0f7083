"""Tests for risklist_loader.csv_feed: header checks, one record per line, truncation."""

from __future__ import annotations

import io

import pytest

from risklist_loader.csv_feed import CsvFeed
from risklist_loader.errors import FeedError
from risklist_loader.lines import LineReader
from risklist_loader.rows import BadRow, FeedRow, ReadRow

HEADER = "action,entity_type,identifier,category,level,reported_at,expires_at,reference\n"


def rows(text: str) -> list[ReadRow]:
    return list(CsvFeed(LineReader(io.BytesIO(text.encode("utf-8")))))


def test_header_is_case_insensitive_and_order_free() -> None:
    """Column names match whatever their case and order; values keep their text."""
    [row] = rows("Identifier, ENTITY_TYPE ,Action\n+8613800138000,phone,remove\n")
    assert row == FeedRow(2, {"identifier": "+8613800138000", "entity_type": "phone", "action": "remove"})


def test_blank_lines_are_skipped() -> None:
    """Blank and whitespace-only lines are neither rows nor rejects."""
    result = rows("\n" + HEADER + "\n   \nremove,ip,1.2.3.4,,,,,\n\n")
    assert [row.line for row in result] == [5]


def test_missing_and_unknown_columns_are_fatal_and_listed() -> None:
    """The message lists what is missing and unknown, and shows the expected header."""
    with pytest.raises(FeedError) as caught:
        rows("action,entity_typ,identifier,colour\n")
    message = str(caught.value)
    assert "missing required column(s) entity_type" in message
    assert "unknown column(s) 'entity_typ', 'colour'" in message
    assert "action,entity_type,identifier,category,level,reported_at,expires_at,reference" in message
    assert caught.value.line == 1 and caught.value.field == "header"


def test_headerless_file_does_not_echo_data() -> None:
    """A file that starts with data gets a hint, and identifiers in it are redacted."""
    with pytest.raises(FeedError) as caught:
        rows("add,phone,+8613800138000,telecom_fraud,high,2026-01-01\n")
    message = str(caught.value)
    assert "13800138000" not in message
    assert "<redacted>" in message and "Does the file start with a header row?" in message


def test_semicolon_separated_file_gets_a_hint() -> None:
    """A header separated by semicolons is explained as such."""
    with pytest.raises(FeedError, match="separated by commas"):
        rows("action;entity_type;identifier\n")


def test_repeated_column_is_fatal() -> None:
    """A column named twice is refused."""
    with pytest.raises(FeedError, match="repeated column"):
        rows("action,entity_type,identifier,level,Level\n")


def test_unreadable_header_is_fatal() -> None:
    """A header line that is not UTF-8 stops the load."""
    with pytest.raises(FeedError, match="header row is unreadable: not valid UTF-8"):
        list(CsvFeed(LineReader(io.BytesIO(b"acti\xf6n,entity_type,identifier\n"))))


def test_add_row_without_add_columns_is_fatal() -> None:
    """A remove-only header is fine until an add row needs category, level and reported_at."""
    result = rows("action,entity_type,identifier\nremove,ip,1.2.3.4\n")
    assert isinstance(result[0], FeedRow)
    with pytest.raises(FeedError, match="no category, level, reported_at column") as caught:
        rows("action,entity_type,identifier\nremove,ip,1.2.3.4\nADD,ip,1.2.3.5\n")
    assert caught.value.line == 3


def test_wrong_field_count_is_a_row_reject() -> None:
    """Too many or too few fields reject the row, saying how many."""
    result = rows(HEADER + "remove,ip,1.2.3.4\nremove,ip,1.2.3.4,,,,,,,\n")
    assert all(isinstance(row, BadRow) and not row.truncated for row in result)
    assert isinstance(result[0], BadRow)
    assert result[0].rejects[0].reason == "3 fields, but the header has 8 columns"
    assert isinstance(result[1], BadRow)
    assert result[1].rejects[0].reason == "10 fields, but the header has 8 columns"


def test_unterminated_quote_mid_file_rejects_only_its_line() -> None:
    """An unclosed quote never swallows the following lines: records are one line each."""
    result = rows(HEADER + 'add,phone,"138,x,1,2026-01-01,,\nremove,ip,1.2.3.4,,,,,\n')
    assert isinstance(result[0], BadRow) and "unterminated quoted field" in result[0].rejects[0].reason
    assert not result[0].truncated
    assert isinstance(result[1], FeedRow) and result[1].line == 3


def test_cut_off_last_line_is_marked_truncated() -> None:
    """A last line without a line end and with too few fields or an open quote is truncated."""
    short = rows(HEADER + "remove,ip,1.2.3.4,,,,,\nadd,phone,+86138")
    assert isinstance(short[1], BadRow) and short[1].truncated
    assert "file truncated?" in short[1].rejects[0].reason
    quoted = rows(HEADER + 'add,phone,"+86138')
    assert isinstance(quoted[0], BadRow) and quoted[0].truncated


def test_complete_last_line_without_line_end_is_fine() -> None:
    """Many tools omit the final line end; a complete last row is accepted."""
    [row] = rows(HEADER + "remove,ip,1.2.3.4,,,,,")
    assert isinstance(row, FeedRow)


def test_quoted_fields_with_commas_and_quotes() -> None:
    """Standard CSV quoting works within a line."""
    [row] = rows(HEADER + 'add,ip,1.2.3.4,other,1,2026-01-01,,"case ""A"", part 2"\n')
    assert isinstance(row, FeedRow) and row.values["reference"] == 'case "A", part 2'
