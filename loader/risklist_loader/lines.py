"""Physical lines of a feed file: bounded length, UTF-8 decoded one line at a time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from risklist_loader.errors import FeedError

MAX_LINE_BYTES = 64 * 1024
"""Longest line accepted, in bytes without its line end; longer lines are rejected whole."""

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_SAVE_AS_UTF8 = "save it as UTF-8 (in Excel: Save As > CSV UTF-8)"


@dataclass(frozen=True, slots=True)
class Line:
    """One line: its text without the line end, or the problem that makes it unreadable."""

    number: int
    text: str
    problem: str = ""
    terminated: bool = True
    """False for a last line with no line end (a truncated file ends so)."""


def line_from_bytes(number: int, data: bytes, terminated: bool) -> Line:
    """The Line that LineReader yields for one whole line (`data` without its LF), read on its own.

    Raises FeedError as LineReader does: UTF-16 (on line 1) or a NUL byte anywhere in the line.
    """
    if number == 1:
        if data.startswith(_UTF16_BOMS):
            raise FeedError(f"the file is UTF-16, not UTF-8; {_SAVE_AS_UTF8}", line=1)
        if data.startswith(_UTF8_BOM):
            data = data[len(_UTF8_BOM) :]
    LineReader._check_binary(data, number)
    content = data[:-1] if data.endswith(b"\r") else data
    if len(content) > MAX_LINE_BYTES:
        return Line(number, "", f"line longer than {MAX_LINE_BYTES} bytes", terminated)
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        problem = (
            f"not valid UTF-8 (byte 0x{content[error.start]:02X} at byte {error.start + 1} "
            f"of the line); {_SAVE_AS_UTF8}"
        )
        return Line(number, "", problem, terminated)
    return Line(number, text, "", terminated)


class LineReader:
    """Iterates a binary stream's lines; raises FeedError on UTF-16 or binary content."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.bytes_read = 0

    def __iter__(self) -> Iterator[Line]:
        number = 0
        while True:
            chunk = self._stream.readline(MAX_LINE_BYTES + 2)
            if not chunk:
                return
            number += 1
            self.bytes_read += len(chunk)
            if number == 1:
                if chunk.startswith(_UTF16_BOMS):
                    raise FeedError(f"the file is UTF-16, not UTF-8; {_SAVE_AS_UTF8}", line=1)
                if chunk.startswith(_UTF8_BOM):
                    chunk = chunk[len(_UTF8_BOM) :]
            terminated = chunk.endswith(b"\n")
            oversized = False
            if not terminated and len(chunk) > MAX_LINE_BYTES + 1:
                oversized = True
                terminated = self._skip_rest_of_line(number)
            self._check_binary(chunk, number)
            content = chunk.rstrip(b"\n")
            if content.endswith(b"\r"):
                content = content[:-1]
            if oversized or len(content) > MAX_LINE_BYTES:
                yield Line(number, "", f"line longer than {MAX_LINE_BYTES} bytes", terminated)
                continue
            try:
                text = content.decode("utf-8")
            except UnicodeDecodeError as error:
                problem = (
                    f"not valid UTF-8 (byte 0x{content[error.start]:02X} at byte {error.start + 1} "
                    f"of the line); {_SAVE_AS_UTF8}"
                )
                yield Line(number, "", problem, terminated)
                continue
            yield Line(number, text, "", terminated)

    def _skip_rest_of_line(self, number: int) -> bool:
        """Discard the rest of an oversized line; return whether it had a line end."""
        while True:
            piece = self._stream.readline(MAX_LINE_BYTES)
            self.bytes_read += len(piece)
            self._check_binary(piece, number)
            if not piece:
                return False
            if piece.endswith(b"\n"):
                return True

    @staticmethod
    def _check_binary(chunk: bytes, number: int) -> None:
        if b"\x00" in chunk:
            raise FeedError(
                f"the file holds NUL bytes, so it is UTF-16 or binary, not a UTF-8 text feed; "
                f"{_SAVE_AS_UTF8}",
                line=number,
            )
