"""CSV feeds: a header row naming the columns, then one record per line."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from risklist_loader.errors import FeedError
from risklist_loader.lines import Line
from risklist_loader.rejects import REDACTED, Reject, shown
from risklist_loader.rows import (
    ADD_COLUMNS,
    EXPECTED_HEADER,
    FIELDS,
    REQUIRED_COLUMNS,
    BadRow,
    FeedRow,
    ReadRow,
)

# Each record is parsed from one physical line of at most 64 KiB, so csv.field_size_limit
# (128 KiB by default) can never be exceeded; a csv.Error is still caught and reported.


def _parse_line(text: str) -> list[str]:
    """The fields of one line; raise csv.Error on bad quoting (a quote opened and not closed)."""
    return next(csv.reader((text,), strict=True))


def _csv_reason(error: csv.Error) -> str:
    message = str(error)
    if "unexpected end of data" in message:
        return (
            "unterminated quoted field (a quote opened and never closed; fields may not span lines)"
        )
    return f"bad CSV quoting: {message}"


class CsvFeed:
    """Yields FeedRow/BadRow per data line; raises FeedError for a bad header."""

    def __init__(self, lines: Iterable[Line], columns: tuple[str, ...] = ()) -> None:
        self._lines = iter(lines)
        self.columns: tuple[str, ...] = columns
        """Empty until the header is read; given when reading a part of a feed after its header."""

    def __iter__(self) -> Iterator[ReadRow]:
        for line in self._lines:
            row = self.read_line(line)
            if row is not None:
                yield row

    def read_header(self) -> int:
        """Read up to and including the header; return its line number (0: the feed has none)."""
        for line in self._lines:
            self.read_line(line)
            if self.columns:
                return line.number
        return 0

    def read_line(self, line: Line) -> ReadRow | None:
        """The row of one line; None for a blank line or the header (which sets `columns`)."""
        if line.problem:
            if not self.columns:
                raise FeedError(f"the header row is unreadable: {line.problem}",
                                line=line.number, field="header")
            return BadRow(line.number, (Reject(line.number, "row", line.problem),))
        if not line.text.strip():
            return None
        if not self.columns:
            self.columns = self._header(line)
            return None
        return self._row(line)

    def _header(self, line: Line) -> tuple[str, ...]:
        try:
            names = [name.strip().lower() for name in _parse_line(line.text)]
        except csv.Error as error:
            raise FeedError(f"the header row is unreadable: {_csv_reason(error)}", line=line.number,
                            field="header") from None
        problems: list[str] = []
        missing = [name for name in REQUIRED_COLUMNS if name not in names]
        if missing:
            problems.append(f"missing required column(s) {', '.join(missing)}")
        unknown = [name for name in names if name not in FIELDS]
        if unknown:
            problems.append(f"unknown column(s) {', '.join(shown(name) for name in unknown)}")
        repeated = sorted({name for name in names if names.count(name) > 1 and name in FIELDS})
        if repeated:
            problems.append(f"repeated column(s) {', '.join(repeated)}")
        if problems:
            hint = ""
            if len(names) == 1 and any(sep in line.text for sep in ";\t|"):
                hint = " Fields must be separated by commas."
            elif not set(names) & set(FIELDS):
                hint = " Does the file start with a header row?"
            if not hint and any(shown(name) == REDACTED for name in unknown):
                hint = " (Names that look like data are shown as <redacted>.)"
            raise FeedError(
                f"bad header: {'; '.join(problems)}. Expected a header such as "
                f"{EXPECTED_HEADER} (any order, case-insensitive; expires_at and reference "
                f"optional).{hint}",
                line=line.number,
                field="header",
            )
        return tuple(names)

    def _row(self, line: Line) -> ReadRow:
        try:
            fields = _parse_line(line.text)
        except csv.Error as error:
            reject = Reject(line.number, "row", _csv_reason(error))
            return BadRow(line.number, (reject,), truncated=not line.terminated)
        if len(fields) != len(self.columns):
            cut = not line.terminated and len(fields) < len(self.columns)
            reason = f"{len(fields)} fields, but the header has {len(self.columns)} columns"
            if cut:
                reason += "; the last line is cut short (file truncated?)"
            return BadRow(line.number, (Reject(line.number, "row", reason),), truncated=cut)
        values: dict[str, object] = dict(zip(self.columns, fields, strict=True))
        self._check_add_columns(line.number, values)
        return FeedRow(line.number, values)

    def _check_add_columns(self, number: int, values: dict[str, object]) -> None:
        action = values.get("action")
        if isinstance(action, str) and action.strip().lower() == "add":
            absent = [name for name in ADD_COLUMNS if name not in self.columns]
            if absent:
                raise FeedError(
                    f"this is an add row, but the header has no {', '.join(absent)} column(s); "
                    f"add rows need {', '.join(ADD_COLUMNS)}. Expected a header such as "
                    f"{EXPECTED_HEADER}",
                    line=number,
                    field="header",
                )
