"""Reading a bank's customer file for risklist-watch: CSV or JSON Lines with the feeds' column names.

Columns (any order, any case): `entity_type` and `identifier` as in a feed (docs/feeds.md), and an
optional `reference`, the bank's own customer reference, carried by each alert as its label
(without one, the label is the identifier as written). Other columns are ignored, so a customer
export can be used as it is. A `.jsonl`/`.ndjson` file is JSON Lines (one object per line, the
same keys); anything else is CSV with a header line. Blank lines are skipped. A bad row is
reported (line number, what, why) and skipped; a file that cannot be read at all raises
CustomerFileError saying what to do.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from risklist_kernel.errors import InvalidIdentifier, RiskListError

REQUIRED = ("entity_type", "identifier")
LABEL = "reference"
MAX_LABEL = 256


class CustomerFileError(RiskListError):
    """The customer file cannot be used at all (missing, unreadable, not UTF-8, no usable header)."""


@dataclass(frozen=True, slots=True)
class Rejected:
    """A row that was skipped: its physical line number and why."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Customers:
    """The file's good rows as (storage key, label) pairs, and the rows skipped."""

    entries: list[tuple[bytes, str]]
    rejected: list[Rejected]


def read_customers(path: Path, key_of: Callable[[str, str], bytes]) -> Customers:
    """Every row of `path` as (key_of(entity_type, identifier), label); rows key_of refuses are rejected."""
    rejected: list[Rejected] = []
    entries = list(stream_customers(path, key_of, rejected))
    return Customers(entries, rejected)


def stream_customers(
    path: Path, key_of: Callable[[str, str], bytes], rejected: list[Rejected]
) -> Iterator[tuple[bytes, str]]:
    """read_customers() row by row, for files too large to hold: skipped rows are appended to `rejected`."""
    for line, row in _rows(path):
        if isinstance(row, Rejected):
            rejected.append(row)
            continue
        kind, identifier = row.get("entity_type") or "", row.get("identifier") or ""
        if not kind.strip() or not identifier.strip():
            rejected.append(Rejected(line, "entity_type and identifier must both be given"))
            continue
        try:
            key = key_of(kind, identifier)
        except InvalidIdentifier as error:
            rejected.append(Rejected(line, str(error)))
            continue
        except ValueError as error:  # an unknown entity type: the message lists the accepted ones
            rejected.append(Rejected(line, f"entity_type: {error}"))
            continue
        label = (row.get(LABEL) or "").strip() or identifier.strip()
        yield key, label[:MAX_LABEL]


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str] | Rejected]]:
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as error:
        raise CustomerFileError(f"--customers {path}: cannot open it ({error.strerror}); check the path and that "
                                "this user may read it") from None
    with handle:
        if path.stat().st_size == 0:
            raise CustomerFileError(f"--customers {path}: the file is empty (0 bytes), as an export that wrote "
                                    "nothing leaves; export it again (a header line alone watches nobody)")
        try:
            if path.suffix.lower() in (".jsonl", ".ndjson"):
                yield from _json_lines(handle)
            else:
                yield from _csv_rows(path, handle)
        except UnicodeDecodeError as error:
            raise CustomerFileError(f"--customers {path}: not UTF-8 (byte 0x{error.object[error.start]:02X}); "
                                    "save it as UTF-8 (in Excel: Save As > CSV UTF-8)") from None


def _json_lines(lines: Iterator[str]) -> Iterator[tuple[int, dict[str, str] | Rejected]]:
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            yield number, Rejected(number, f"not valid JSON: {error.msg} at column {error.colno}")
            continue
        if not isinstance(value, dict):
            yield number, Rejected(number, "not a JSON object")
            continue
        yield number, {str(k).strip().lower(): "" if v is None else str(v) for k, v in value.items()}


def _csv_rows(path: Path, handle: Iterator[str]) -> Iterator[tuple[int, dict[str, str] | Rejected]]:
    header: list[str] | None = None
    for number, text in enumerate(handle, start=1):
        if not text.strip():
            continue
        fields = next(csv.reader([text]))
        if header is None:
            header = [field.strip().lower() for field in fields]
            missing = [name for name in REQUIRED if name not in header]
            if missing:
                raise CustomerFileError(
                    f"--customers {path}: line {number}: the header lacks column(s) {', '.join(missing)} "
                    f"(it has: {', '.join(header) or 'nothing'}); name the columns as a feed does: entity_type, "
                    "identifier and, optionally, reference (docs/feeds.md)")
            continue
        if len(fields) != len(header):
            yield number, Rejected(number, f"{len(fields)} fields, the header has {len(header)}")
            continue
        yield number, dict(zip(header, fields, strict=True))
