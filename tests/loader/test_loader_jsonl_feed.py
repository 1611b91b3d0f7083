"""Tests for risklist_loader.jsonl_feed: one object per line, bad lines rejected, never a crash."""

from __future__ import annotations

import io

import pytest

from risklist_loader.jsonl_feed import JsonlFeed
from risklist_loader.lines import LineReader
from risklist_loader.rows import BadRow, FeedRow, ReadRow


def rows(text: str) -> list[ReadRow]:
    return list(JsonlFeed(LineReader(io.BytesIO(text.encode("utf-8")))))


def reason(row: ReadRow) -> str:
    assert isinstance(row, BadRow)
    return row.rejects[0].reason


def test_objects_become_rows_with_lower_case_keys_and_nulls_dropped() -> None:
    """Keys are case-insensitive, null means absent, numbers stay numbers."""
    [row] = rows('{"Action": "add", "LEVEL": 3, "reference": null}\n')
    assert row == FeedRow(1, {"action": "add", "level": 3})


def test_blank_lines_are_ignored() -> None:
    """Blank lines are skipped and line numbers stay physical."""
    result = rows('\n  \n{"action": "remove"}\n\n')
    assert [row.line for row in result] == [3]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"action": "add",}', "not valid JSON: Expecting property name"),
        ('["add", "phone"]', "not a JSON object"),
        ('{"action": "add", "ACTION": "remove"}', "appears twice"),
        ('{"level": ' + "9" * 5000 + "}", "a number is too long"),
    ],
)
def test_bad_lines_are_rejected_with_a_reason(line: str, expected: str) -> None:
    """Invalid JSON, non-objects, repeated keys and absurd numbers reject only their line."""
    result = rows(line + '\n{"action": "remove"}\n')
    assert expected in reason(result[0])
    assert isinstance(result[1], FeedRow)


def test_deep_nesting_is_rejected_not_a_crash() -> None:
    """Nesting deep enough to exhaust the recursion limit rejects the line."""
    depth = 30_000
    [row] = rows('{"action": ' + "[" * depth + "]" * depth + "}\n")
    assert reason(row) == "not a feed row: JSON nested too deeply"


def test_unknown_fields_are_named_unless_they_look_like_data() -> None:
    """An unknown key is named in the reject; a key that looks like data is redacted."""
    [row] = rows('{"action": "add", "colour": "red", "13800138000": 1}\n')
    assert isinstance(row, BadRow)
    assert [reject.field for reject in row.rejects] == ["colour", "<redacted>"]


def test_cut_off_last_line_is_marked_truncated() -> None:
    """A last line without a line end that is not valid JSON is a truncated file."""
    result = rows('{"action": "remove"}\n{"action": "add", "ident')
    assert isinstance(result[1], BadRow) and result[1].truncated
    assert "file truncated?" in reason(result[1])
