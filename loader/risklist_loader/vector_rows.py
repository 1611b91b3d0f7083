"""Pass 1 a column at a time: the plain add rows of a CSV chunk validated with numpy, FastRows' rules for arrays.

FastRows decides one line at a time in Python. This module decides the same for the plain lines of a whole
chunk (printable ASCII, no quotes, as many fields as the header, at most FAST_LINE_BYTES, action
`add`): types, categories and levels are matched against FastRows' tables, dates are parsed and checked with
array arithmetic, references are taken as they are when already clean, and the tails are packed as one
buffer. Identifiers written as digits, devices' UUIDs, hex and opaque ids, IBANs, IPv4 addresses and ID numbers
are read a column at a time too (digit_identifiers, device_identifiers, iban_identifiers, ip_identifiers,
id_identifiers), leaving only their digest per row; other identifiers take FastRows.key row by row. A line that
any column cannot decide exactly as FastRows would is left over for FastRows.row (and from there the general
path), so every row this module accepts has FastRows' key, action, category and tail
(tests/loader/test_loader_vector_rows.py checks it on generated lines, valid and broken).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from risklist_kernel.digest import KEY_SIZE
from risklist_kernel.enums import EntityType
from risklist_loader.device_identifiers import device_forms
from risklist_loader.digit_identifiers import DIGIT_TYPES, digit_forms
from risklist_loader.fast_rows import FAST_LINE_BYTES, FastRows
from risklist_loader.field_cells import field_cells, marked_between
from risklist_loader.iban_identifiers import iban_forms
from risklist_loader.id_identifiers import id_forms
from risklist_loader.ip_identifiers import ip_forms
from risklist_loader.spool import ADD, EXPIRED, SpoolWriter
from risklist_loader.timestamps import LATEST
from risklist_server.core.contribution_rules import (
    EARLIEST,
    FUTURE_TOLERANCE_SECONDS,
    MAX_EXPIRY_DAYS,
    MAX_REFERENCE_LENGTH,
)
from risklist_server.core.settings import DAY_SECONDS

Int64s = npt.NDArray[np.int64]
Bytes2D = npt.NDArray[np.uint8]
ColumnForm = Callable[[Bytes2D, Int64s, Int64s, Int64s], tuple[npt.NDArray[np.bool_], list[bytes]]]
"""A column rule (device_forms, iban_forms, ...): buffer, field starts and ends, entity types -> which fields it
decided, and their canonical texts."""
KEY_CELL = np.dtype(f"V{KEY_SIZE}")
"""One storage key as a numpy cell (raw bytes: no NUL trimmed)."""

TAIL_HEADER = np.dtype([("category", "u1"), ("level", "u1"), ("reported_at", "<i8"), ("expires_at", "<i8"),
                        ("reference_length", "<u2")])
"""core.record's tail before the reference (struct "<BBqqH"), as a numpy record."""
SHORT_FIELD = 24
"""Identifiers up to this long (grouped accounts and cards, IMEIs, mobiles) are read as digit forms together."""
TIMESTAMP_WIDTH = 25
"""The longest timestamp form read here: YYYY-MM-DDTHH:MM:SS+HH:MM."""

_NEWLINE, _CR, _QUOTE, _COMMA, _SPACE, _TILDE = 10, 13, 34, 44, 32, 126


@dataclass(frozen=True, slots=True)
class VectorRows:
    """The rows of one chunk this module accepted, in line order, ready for the spool; `left_over` holds the
    positions of every other line (in data.split(b"\\n") numbering), for FastRows.row and the general path."""

    positions: Int64s
    keys: bytes
    kinds: npt.NDArray[np.uint8]
    categories: npt.NDArray[np.uint8]
    tail_offsets: Int64s
    tails: bytes
    left_over: list[int]

    @property
    def count(self) -> int:
        return len(self.positions)

    def write_before(self, spool: SpoolWriter, position: int, written: int, first_line: int) -> int:
        """Spool the accepted rows from index `written` up to the first one at or after line `position`;
        return the new `written`."""
        upto = int(np.searchsorted(self.positions, position))
        if upto > written:
            spool.write_columns(self.keys[written * KEY_SIZE : upto * KEY_SIZE], self.kinds[written:upto],
                                self.categories[written:upto], first_line + self.positions[written:upto],
                                np.diff(self.tail_offsets[written : upto + 1]),
                                self.tails[self.tail_offsets[written] : self.tail_offsets[upto]])
        return max(upto, written)


class ColumnRows:
    """Validates the plain add lines of CSV chunks a column at a time, as `fast` would line by line."""

    def __init__(self, columns: tuple[str, ...], fast: FastRows) -> None:
        self._fast = fast
        self._count = len(columns)
        self._index = {name: position for position, name in enumerate(columns)}
        self._types = _Table({name.encode(): int(member) for name, member in fast.types.items()})
        self._members = {int(member): member for member in fast.types.values()}
        self._categories = _Table({name.encode(): value for name, value in fast.categories.items()})
        self._levels = _Table({name.encode(): value for name, value in fast.levels.items()})
        self._retention = np.zeros(256, dtype=np.int64)
        for category, seconds in fast.retention.items():
            self._retention[category] = seconds

    def rows(self, data: bytes) -> VectorRows:
        """Every line of `data` (a chunk of whole lines, no NUL bytes) this module can decide, and the rest."""
        buffer = np.frombuffer(data, dtype=np.uint8)
        if not len(buffer):
            return VectorRows(np.zeros(0, np.int64), b"", np.zeros(0, np.uint8), np.zeros(0, np.uint8),
                              np.zeros(1, np.int64), b"", [0])
        starts, ends = _split_lines(buffer)
        commas = np.flatnonzero(buffer == _COMMA)
        plain = (self._plain(buffer, commas, starts, ends) if self._fast.adds_allowed
                 else np.zeros(len(starts), np.bool_))
        lines = np.flatnonzero(plain)
        fields = self._fields(commas, starts[lines], ends[lines])
        accepted, values = self._decide(buffer, fields)
        keys, good = self._keys(buffer, data, fields["identifier"][:, accepted], values["entity_type"][accepted])
        accepted[accepted] = good
        lines, reference = lines[accepted], fields["reference"][:, accepted]
        kinds = np.where(values["expires_at"][accepted] > self._fast.now, ADD, EXPIRED).astype(np.uint8)
        categories = values["category"][accepted].astype(np.uint8)
        offsets, tails = _tails(buffer, {name: column[accepted] for name, column in values.items()}, reference)
        left = np.ones(len(starts), dtype=np.bool_)
        left[lines] = False
        return VectorRows(lines.astype(np.int64), keys, kinds, categories, offsets, tails,
                          np.flatnonzero(left).tolist())

    def _plain(self, buffer: Bytes2D, commas: Int64s, starts: Int64s, ends: Int64s) -> npt.NDArray[np.bool_]:
        """Lines FastRows could take, of printable ASCII only: short, no quote, no control byte (no CR but a final
        one, no tab: such a line is left to FastRows), as many fields as the header (`commas`: where the buffer's
        commas are)."""
        bad = marked_between((buffer < _SPACE) | (buffer > _TILDE) | (buffer == _QUOTE), starts, ends)
        separators = np.searchsorted(commas, ends) - np.searchsorted(commas, starts)
        plain: npt.NDArray[np.bool_] = ((ends - starts <= FAST_LINE_BYTES) & (bad == 0)
                                        & (separators == self._count - 1))
        return plain

    def _fields(self, commas: Int64s, starts: Int64s, ends: Int64s) -> dict[str, Int64s]:
        """(start, end) of each picked field of each plain line (`commas`: where the buffer's commas are), as a
        2 x n array per field name."""
        first_comma = np.searchsorted(commas, starts)
        width = self._count - 1
        matrix = commas[first_comma[:, None] + np.arange(width)] if width else np.zeros((len(starts), 0), np.int64)
        bounds_start = np.column_stack((starts, matrix + 1))
        bounds_end = np.column_stack((matrix, ends))
        fields: dict[str, Int64s] = {}
        for name in ("action", "entity_type", "identifier", "category", "level", "reported_at", "expires_at",
                     "reference"):
            column = self._index.get(name)
            if column is None:
                fields[name] = np.stack((ends, ends))  # an absent optional column reads as ""
            else:
                fields[name] = np.stack((bounds_start[:, column], bounds_end[:, column]))
        return fields

    def _decide(self, buffer: Bytes2D, fields: dict[str, Int64s]) -> tuple[npt.NDArray[np.bool_], dict[str, Int64s]]:
        """Which lines every column except the identifier accepts, and their values."""
        action = _gather(buffer, fields["action"], 3)
        accepted = (fields["action"][1] - fields["action"][0] == 3) & (action == np.frombuffer(b"add", np.uint8)).all(1)
        types, known_type = self._types.find(buffer, fields["entity_type"])
        category, known_category = self._categories.find(buffer, fields["category"])
        level, known_level = self._levels.find(buffer, fields["level"])
        reported, good_reported = _timestamps(buffer, fields["reported_at"])
        expires_given = fields["expires_at"][1] > fields["expires_at"][0]
        expires_read, good_expires = _given_timestamps(buffer, fields["expires_at"], expires_given)
        expires = np.where(expires_given, expires_read, reported + self._retention[category])
        good_expires = ~expires_given | (good_expires & (expires > reported)
                                         & (expires <= reported + MAX_EXPIRY_DAYS * DAY_SECONDS))
        accepted &= (known_type & known_category & known_level & good_reported & good_expires
                     & (reported <= self._fast.now + FUTURE_TOLERANCE_SECONDS) & _clean_references(buffer, fields))
        values = {"entity_type": types, "category": category, "level": level, "reported_at": reported,
                  "expires_at": expires}
        return accepted, values

    def _keys(self, buffer: Bytes2D, data: bytes, identifiers: Int64s,
              types: Int64s) -> tuple[bytes, npt.NDArray[np.bool_]]:
        """The storage keys (FastRows.key) of the identifiers of the given types that have one, concatenated in
        field order, and which ones have one: digit forms of accounts, cards, IMEIs and mobiles, other device ids,
        IBANs, IPv4 addresses and ID numbers a column at a time (digit_identifiers, device_identifiers,
        iban_identifiers, ip_identifiers, id_identifiers), the others (e-mail addresses, IPv6) one by one."""
        keys = np.zeros(len(types), dtype=KEY_CELL)
        field_starts, field_ends = identifiers
        decided = np.zeros(len(types), dtype=np.bool_)
        # Each form is read only on the rows of its types (on the others it would be computed, then dropped), the
        # digit forms in two widths: a chunk's few long fields (spaced IBANs) widen the matrix for their rows only.
        short = field_ends - field_starts <= SHORT_FIELD
        digit_types = np.isin(types, DIGIT_TYPES)
        found_rows: list[tuple[Int64s, list[bytes]]] = []
        for rows in (np.flatnonzero(digit_types & short), np.flatnonzero(digit_types & ~short)):
            found_here, texts = digit_forms(buffer, field_starts[rows], field_ends[rows], types[rows],
                                            self._fast.region)
            found_rows.append((rows[found_here], texts))
            decided[rows[found_here]] = True
        forms: tuple[tuple[EntityType, ColumnForm], ...] = (
            (EntityType.DEVICE, device_forms), (EntityType.ACCOUNT, iban_forms), (EntityType.IP, ip_forms),
            (EntityType.ID_NUMBER, functools.partial(id_forms, default_region=self._fast.region)))
        for entity_type, form in forms:
            rows = np.flatnonzero((types == int(entity_type)) & ~decided)
            found_here, texts = form(buffer, field_starts[rows], field_ends[rows], types[rows])
            found_rows.append((rows[found_here], texts))
            decided[rows[found_here]] = True
        for rows, canonicals in found_rows:
            keys[rows] = np.frombuffer(self._fast.keys_of_canonical(types[rows].tolist(), canonicals), KEY_CELL)
        text = data.decode("latin-1")  # plain lines are ASCII: one character per byte
        identifier_key, members = self._fast.key, self._members
        starts, ends = identifiers.tolist()
        type_values = types.tolist()
        places: list[int] = []
        found: list[bytes] = []
        for place in np.flatnonzero(~decided).tolist():
            key = identifier_key(members[type_values[place]], text[starts[place] : ends[place]])
            if key is not None:
                places.append(place)
                found.append(key)
        if found:
            keys[places] = np.frombuffer(b"".join(found), KEY_CELL)
            decided[places] = True
        return keys[decided].tobytes(), decided


class _Table:
    """Exact spellings (bytes) and their values, matched against fields with one sorted search."""

    def __init__(self, spellings: dict[bytes, int]) -> None:
        self.width = max(len(spelling) for spelling in spellings)
        ordered = sorted(spellings)
        self._keys = np.array(ordered, dtype=f"S{self.width}")
        self._values = np.array([spellings[spelling] for spelling in ordered], dtype=np.int64)

    def find(self, buffer: Bytes2D, bounds: Int64s) -> tuple[Int64s, npt.NDArray[np.bool_]]:
        """(value or 0, whether the field is one of the spellings) per field."""
        lengths = bounds[1] - bounds[0]
        fitting = (lengths > 0) & (lengths <= self.width)
        cells = np.ascontiguousarray(_gather(buffer, bounds, self.width)).view(f"S{self.width}").ravel()
        place = np.minimum(np.searchsorted(self._keys, cells), len(self._keys) - 1)
        found = fitting & (self._keys[place] == cells)
        return np.where(found, self._values[place], 0), found


def _split_lines(buffer: Bytes2D) -> tuple[Int64s, Int64s]:
    """Start and end (a final CR dropped) of every piece data.split(b"\\n") gives, the empty piece after a final
    LF left out, as the chunk loop numbers them."""
    newlines = np.flatnonzero(buffer == _NEWLINE)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(buffer)]))
    if len(buffer) and buffer[-1] == _NEWLINE:
        starts, ends = starts[:-1], ends[:-1]
    has_cr = (ends > starts) & (buffer[np.maximum(ends - 1, 0)] == _CR)
    return starts.astype(np.int64), (ends - has_cr).astype(np.int64)


def _gather(buffer: Bytes2D, bounds: Int64s, width: int) -> Bytes2D:
    """The first `width` bytes of each field, zero-padded (n x width)."""
    return field_cells(buffer, bounds[0], bounds[1], width)


def _number(cells: Bytes2D, first: int, digits: int) -> tuple[Int64s, npt.NDArray[np.bool_]]:
    """The decimal number in columns [first, first + digits), and whether they are all ASCII digits."""
    # Column by column: a 2-digit field costs two multiply-adds, not a copy to int64 and a matrix product.
    ok: npt.NDArray[np.bool_] = np.ones(len(cells), dtype=np.bool_)
    value: Int64s = np.zeros(len(cells), dtype=np.int64)
    for column in range(first, first + digits):
        digit = cells[:, column] - np.uint8(ord("0"))  # wraps below '0': only 0-9 are digits
        ok &= digit <= 9
        value = value * 10 + digit
    return value, ok


def _timestamps(buffer: Bytes2D, bounds: Int64s) -> tuple[Int64s, npt.NDArray[np.bool_]]:
    """Unix seconds of YYYY-MM-DD, YYYY-MM-DD[T ]HH:MM:SSZ or ...±HH:MM, as FastRows reads them; and which are."""
    lengths = bounds[1] - bounds[0]
    cells = _gather(buffer, bounds, TIMESTAMP_WIDTH)
    year, year_ok = _number(cells, 0, 4)
    month, month_ok = _number(cells, 5, 2)
    day, day_ok = _number(cells, 8, 2)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 0, 0, 0], dtype=np.int64)
    days_in_month = month_days[np.clip(month, 0, 15)] + (leap & (month == 2))
    ok = (year_ok & month_ok & day_ok & (cells[:, 4] == ord("-")) & (cells[:, 7] == ord("-"))
          & (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= days_in_month))
    moment = _days_from_civil(year, month, day) * DAY_SECONDS
    ok &= (moment >= EARLIEST) & (moment <= LATEST)
    hours, hours_ok = _number(cells, 11, 2)
    minutes, minutes_ok = _number(cells, 14, 2)
    seconds, seconds_ok = _number(cells, 17, 2)
    clock_ok = (((cells[:, 10] == ord("T")) | (cells[:, 10] == ord(" "))) & hours_ok & minutes_ok & seconds_ok
                & (cells[:, 13] == ord(":")) & (cells[:, 16] == ord(":"))
                & (hours <= 23) & (minutes <= 59) & (seconds <= 59))
    offset_hours, offset_hours_ok = _number(cells, 20, 2)
    offset_minutes, offset_minutes_ok = _number(cells, 23, 2)
    sign = np.where(cells[:, 19] == ord("-"), -1, 1)
    offset_ok = (((cells[:, 19] == ord("+")) | (cells[:, 19] == ord("-"))) & offset_hours_ok & offset_minutes_ok
                 & (cells[:, 22] == ord(":")) & (offset_hours <= 23) & (offset_minutes <= 59))
    zulu = (lengths == 20) & (cells[:, 19] == ord("Z"))
    timed = clock_ok & (zulu | ((lengths == 25) & offset_ok))
    offset = np.where(zulu, 0, sign * (offset_hours * 3600 + offset_minutes * 60))
    timed_moment = moment + hours * 3600 + minutes * 60 + seconds - offset
    ok &= (lengths == 10) | (timed & (timed_moment >= EARLIEST) & (timed_moment <= LATEST))
    return np.where(lengths == 10, moment, timed_moment), ok


def _given_timestamps(buffer: Bytes2D, bounds: Int64s,
                      given: npt.NDArray[np.bool_]) -> tuple[Int64s, npt.NDArray[np.bool_]]:
    """_timestamps of the fields where `given` (an optional column's: often most rows leave it empty); 0 and False
    elsewhere."""
    rows = np.flatnonzero(given)
    moments, good = np.zeros(len(given), dtype=np.int64), np.zeros(len(given), dtype=np.bool_)
    moments[rows], good[rows] = _timestamps(buffer, bounds[:, rows])
    return moments, good


def _days_from_civil(year: Int64s, month: Int64s, day: Int64s) -> Int64s:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's days_from_civil)."""
    shifted = year - (month <= 2)
    era = np.floor_divide(shifted, 400)
    year_of_era = shifted - era * 400
    day_of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    days: Int64s = era * 146_097 + day_of_era - 719_468
    return days


def _clean_references(buffer: Bytes2D, fields: dict[str, Int64s]) -> npt.NDArray[np.bool_]:
    """References taken as written: empty, or without surrounding spaces, short enough (plain lines hold printable
    ASCII only: ColumnRows._plain)."""
    starts, ends = fields["reference"]
    lengths = ends - starts
    edge = np.where(lengths > 0, np.maximum(ends - 1, 0), 0)
    clean: npt.NDArray[np.bool_] = (lengths == 0) | (
        (lengths <= MAX_REFERENCE_LENGTH)
        & (buffer[np.minimum(starts, len(buffer) - 1)] != _SPACE) & (buffer[edge] != _SPACE))
    return clean


def _tails(buffer: Bytes2D, values: dict[str, Int64s], reference: Int64s) -> tuple[Int64s, bytes]:
    """core.record.pack_tail of every row, concatenated, and where each one starts (n + 1 offsets)."""
    count = len(values["category"])
    lengths = reference[1] - reference[0]
    header = np.zeros(count, dtype=TAIL_HEADER)
    header["category"] = values["category"]
    header["level"] = values["level"]
    header["reported_at"] = values["reported_at"]
    header["expires_at"] = values["expires_at"]
    header["reference_length"] = lengths
    sizes = TAIL_HEADER.itemsize + lengths
    offsets = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    out = np.empty(int(offsets[-1]), dtype=np.uint8)
    out[offsets[:-1, None] + np.arange(TAIL_HEADER.itemsize)] = header.view(np.uint8).reshape(count,
                                                                                              TAIL_HEADER.itemsize)
    total = int(lengths.sum())
    if total:
        within = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        out[np.repeat(offsets[:-1] + TAIL_HEADER.itemsize, lengths) + within] = buffer[
            np.repeat(reference[0], lengths) + within]
    return offsets, out.tobytes()
