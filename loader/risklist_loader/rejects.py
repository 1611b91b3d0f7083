"""Rejected rows: what was wrong where, written to the rejects file and counted."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from risklist_loader.errors import LoaderError

REJECTS_HEADER = ("line", "field", "reason")
REDACTED = "<redacted>"
FIRST_REJECTS_SHOWN = 5

_SHOWABLE = re.compile(r"[A-Za-z_ -]{1,32}|-?\d{1,3}")


def shown(value: object) -> str:
    """A value fit to echo in a message: short words and small numbers, else <redacted>.

    A value in the wrong column may be an identifier, so nothing longer or more number-like
    than an enum name or a level ever reaches the rejects file or the logs.
    """
    text = str(value).strip()
    return repr(text) if _SHOWABLE.fullmatch(text) else REDACTED


@dataclass(frozen=True, slots=True)
class Reject:
    """One problem: the 1-based line, the field at fault (or row/file), and why."""

    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        return f"{where}, {self.field}: {self.reason}"


class RejectLog:
    """Counts rejected rows, keeps the first few for the summary, writes the rejects file."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.rows = 0
        self.first: list[Reject] = []
        self._file: TextIO | None = None
        self._writer: csv.DictWriter[str] | None = None
        if path is not None:
            try:
                self._file = path.open("w", encoding="utf-8", newline="")
            except OSError as error:
                raise LoaderError(f"--rejects: cannot write {path}: {error.strerror}") from None
            self._writer = csv.DictWriter(self._file, REJECTS_HEADER, lineterminator="\n")
            self._writer.writeheader()

    def reject_row(self, rejects: tuple[Reject, ...] | list[Reject]) -> None:
        """Record one rejected row with every problem found in it."""
        self.rows += 1
        for reject in rejects:
            self.note(reject)

    def note(self, reject: Reject) -> None:
        """Write one problem (a fatal one too) without counting a row."""
        if len(self.first) < FIRST_REJECTS_SHOWN:
            self.first.append(reject)
        if self._writer is not None:
            self._writer.writerow(
                {"line": reject.line, "field": reject.field, "reason": reject.reason}
            )

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
