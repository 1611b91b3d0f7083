"""Tests for risklist_loader.lines: bounded, line-by-line UTF-8 decoding of a feed file."""

from __future__ import annotations

import io

import pytest

from risklist_loader.errors import FeedError
from risklist_loader.lines import MAX_LINE_BYTES, Line, LineReader


def read(data: bytes) -> list[Line]:
    return list(LineReader(io.BytesIO(data)))


def test_utf8_bom_and_line_ends_are_dropped() -> None:
    """A UTF-8 BOM and LF/CRLF line ends never reach the text."""
    lines = read(b"\xef\xbb\xbfaction\r\nadd\nremove")
    assert [line.text for line in lines] == ["action", "add", "remove"]
    assert [line.terminated for line in lines] == [True, True, False]
    assert [line.number for line in lines] == [1, 2, 3]


def test_latin1_line_is_a_problem_not_a_crash() -> None:
    """Bytes that are not UTF-8 make that line a problem naming the byte, the rest reads on."""
    lines = read("ok\ncaf\xe9\nnext\n".encode("latin-1"))
    assert lines[1].problem.startswith("not valid UTF-8 (byte 0xE9 at byte 4")
    assert lines[1].text == ""
    assert lines[2].text == "next"


@pytest.mark.parametrize("bom", [b"\xff\xfe", b"\xfe\xff"])
def test_utf16_bom_is_fatal(bom: bytes) -> None:
    """A UTF-16 byte order mark stops the read with a message saying to save as UTF-8."""
    with pytest.raises(FeedError, match="UTF-16, not UTF-8; save it as UTF-8"):
        read(bom + "action\n".encode("utf-16-le"))


def test_nul_bytes_are_fatal() -> None:
    """NUL bytes (UTF-16 without a BOM, or binary) stop the read at their line."""
    with pytest.raises(FeedError, match="NUL bytes") as caught:
        read(b"action\nadd\x00,phone\n")
    assert caught.value.line == 2


def test_oversized_line_is_skipped_whole() -> None:
    """A line over 64 KiB becomes one problem, and the next line is read normally."""
    lines = read(b"head\n" + b"x" * (MAX_LINE_BYTES * 3) + b"\nafter\n")
    assert [line.text for line in lines] == ["head", "", "after"]
    assert lines[1].problem == f"line longer than {MAX_LINE_BYTES} bytes"
    assert lines[1].terminated


def test_line_of_exactly_the_limit_is_accepted() -> None:
    """A line of exactly 64 KiB (plus CRLF) is fine; one byte more is not."""
    lines = read(b"y" * MAX_LINE_BYTES + b"\r\n" + b"z" * (MAX_LINE_BYTES + 1))
    assert lines[0].problem == "" and len(lines[0].text) == MAX_LINE_BYTES
    assert lines[1].problem and not lines[1].terminated


def test_bytes_read_counts_everything() -> None:
    """bytes_read reaches the stream's size, for the progress bar."""
    data = b"a\n" + b"b" * (MAX_LINE_BYTES + 10) + b"\nc"
    reader = LineReader(io.BytesIO(data))
    list(reader)
    assert reader.bytes_read == len(data)
