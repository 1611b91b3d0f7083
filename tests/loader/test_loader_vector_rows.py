"""The column path of pass 1 (risklist_loader.vector_rows): every row it takes is exactly FastRows' row, and
every line it leaves goes on to FastRows and the general path, so a chunk spools the same bytes either way."""

from __future__ import annotations

import filecmp
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from risklist_kernel.enums import Category, EntityType, RiskLevel
from risklist_kernel.identifiers import Normaliser
from risklist_kernel.secret import NetworkSecret
from risklist_loader import parallel
from risklist_loader.fast_rows import FastRows
from risklist_loader.parallel import Chunk, WorkerSetup, validate_chunk
from risklist_loader.rows import FIELDS
from risklist_loader.spool import KEY_SIZE
from risklist_loader.timestamps import format_timestamp
from risklist_loader.vector_rows import ColumnRows, VectorRows
from risklist_server.core.contribution_rules import MAX_EXPIRY_DAYS
from risklist_server.core.settings import DAY_SECONDS, Settings

SECRET = NetworkSecret(bytes(range(32)))
NOW = 1_800_000_000
PLAIN = st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters=",")
ODD = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x2FF, exclude_characters=",\n"), max_size=12)

IDENTIFIERS = {
    "account": ["6222021234567890123", "GB82 WEST 1234 5698 7654 32", "gb82west12345698765432", "ACC-001-778",
                "DE89370400440532013000", "1", "6222-0212-3456-7890-1234-5", "6222 0212 3456 7890 1234 5678 9012 34",
                "6222 0212 3456 7890 1234 5678 9012 3456 78"],
    "card": ["4111 1111 1111 1111", "4111-1111-1111-1112", "6221267563481105", "12"],
    "phone": ["+8613800138000", "0086 138-0013-8000", "13800138000", "+442071838750", "1790013800"],
    "device": ["356938035643809", "123e4567-e89b-12d3-a456-426614174000", "ABCDEF0123", "abc", "a b c d"],
    "id_number": ["CN:11010519491231002X", "110105194912310021", "US:12345678", "X:1"],
    "ip": ["192.168.0.1", "::ffff:10.0.0.1", "999.1.1.1"],
    "email": ["Alice@Example.COM", "not-an-email"],
}


def _date_text(moment: int) -> str:
    return format_timestamp(moment)[:10]


TIMESTAMPS = st.one_of(
    st.integers(min_value=-DAY_SECONDS, max_value=NOW + 3 * DAY_SECONDS).map(format_timestamp),
    st.integers(min_value=0, max_value=NOW + 3 * DAY_SECONDS).map(_date_text),
    st.builds(lambda moment, sep, offset: format_timestamp(moment)[:10] + sep + format_timestamp(moment)[11:19]
              + offset,
              st.integers(min_value=0, max_value=NOW), st.sampled_from(["T", " ", "t", "_"]),
              st.sampled_from(["Z", "z", "+08:00", "-05:30", "+23:59", "+24:00", "-00:60", "+0800", "", "+08:00:00"])),
    st.builds(lambda year, month, day, clock: f"{year:04d}-{month:02d}-{day:02d}{clock}",
              st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=13),
              st.integers(min_value=0, max_value=32),
              st.sampled_from(["", "T00:00:00Z", "T23:59:59+14:00", "T24:00:00Z", "T12:60:00Z", "T12:00:60Z"])),
    st.sampled_from(["", "9999-12-31T23:59:59-01:00", "9999-12-31", "1970-01-01T00:00:00+00:01", "2026-02-29",
                     "2024-02-29", "1900-02-29", "2000-02-29", "2020-01-01T24:00:00Z", "2020-01-01T23:60:00Z",
                     "2020-01-01T23:59:60Z", "2020-01-01T12:00:00+08:60", "2020-01-01T12:00:00+24:00",
                     "2020-01-01T12:00:00-23:59", "2020-01-01T12:00:00+00:00", "2020-01-01 12:00:00Z"]),
    ODD,
)


def _spellings(names: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(names), st.sampled_from(names).map(str.upper),
                     st.sampled_from(names).map(str.capitalize), ODD)


FIELD_VALUES: dict[str, st.SearchStrategy[str]] = {
    "action": st.sampled_from(["add", "add", "add", "remove", "Add", "", "adds", " add"]),
    "entity_type": st.one_of(st.sampled_from(list(IDENTIFIERS)), st.sampled_from(["Card", "x", ""])),
    "identifier": st.one_of(st.sampled_from([value for values in IDENTIFIERS.values() for value in values]),
                            st.text(alphabet=PLAIN, max_size=20), ODD),
    "category": _spellings([member.feed_name for member in Category]),
    "level": _spellings([member.feed_name for member in RiskLevel] + ["1", "4", "5", "0"]),
    "reported_at": TIMESTAMPS,
    "expires_at": st.one_of(st.just(""), TIMESTAMPS),
    "reference": st.one_of(st.just(""), st.text(alphabet=PLAIN, max_size=70), ODD,
                           st.text(alphabet=PLAIN, max_size=64).map(lambda text: text + " "),
                           st.text(alphabet=PLAIN, max_size=64).map(lambda text: " " + text),
                           st.sampled_from([" case-1", "case-1 ", "case\t1", "x" * 64, "x" * 65, "\x1c1", "1\x1f"])),
}
VALID_ROWS = st.builds(
    lambda kind, category, level, reported, lifetime, reference, form: {
        "action": "add", "entity_type": kind, "identifier": IDENTIFIERS[kind][0], "category": category.feed_name,
        "level": level.feed_name,
        "reported_at": form(reported),
        "expires_at": "" if lifetime is None else form(reported + lifetime),
        "reference": reference},
    st.sampled_from(["phone", "card", "account", "device"]), st.sampled_from(Category), st.sampled_from(RiskLevel),
    st.one_of(st.integers(min_value=0, max_value=NOW + 2 * DAY_SECONDS),
              st.sampled_from([NOW + DAY_SECONDS, NOW + DAY_SECONDS + 1, NOW, NOW - 1, 0])),
    st.one_of(st.none(), st.integers(min_value=-DAY_SECONDS, max_value=MAX_EXPIRY_DAYS * DAY_SECONDS + DAY_SECONDS),
              st.sampled_from([0, 1, MAX_EXPIRY_DAYS * DAY_SECONDS, MAX_EXPIRY_DAYS * DAY_SECONDS + 1])),
    st.text(alphabet=PLAIN.filter(lambda ch: ch != '"'), max_size=66),
    st.sampled_from([format_timestamp, _date_text, lambda moment: format_timestamp(moment)[:19] + "+08:00"]),
)
"""Rows valid but for their edges: expiries before or long after the report, reports a day ahead, references of
65 characters or with surrounding spaces."""
ROWS = st.one_of(
    VALID_ROWS,
    st.tuples(VALID_ROWS, st.sampled_from(list(FIELD_VALUES))).flatmap(
        lambda parts: FIELD_VALUES[parts[1]].map(lambda value: {**parts[0], parts[1]: value})),
)
"""Mostly valid rows, or valid rows with one field replaced by anything that field may hold, odd or broken."""


def _line(row: dict[str, str], columns: tuple[str, ...]) -> str:
    return ",".join(row[name] for name in columns)


def _fast(columns: tuple[str, ...]) -> FastRows:
    return FastRows(columns, Normaliser("CN"), SECRET, Settings(), NOW)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(ROWS, min_size=1, max_size=30), endings=st.sampled_from(["\n", "\r\n"]),
       terminated=st.booleans(), columns=st.sampled_from([FIELDS, FIELDS[:-1], FIELDS[:-2], FIELDS[::-1]]))
def test_every_row_the_column_path_takes_is_fast_rows_row(rows: list[dict[str, str]], endings: str,
                                                          terminated: bool, columns: tuple[str, ...]) -> None:
    """Taken rows have FastRows' key, action, category and tail, in line order; the others are left over."""
    lines = [_line(row, columns) for row in rows]
    data = (endings.join(lines) + (endings if terminated else "")).encode("utf-8")
    fast = _fast(columns)
    taken = ColumnRows(columns, fast).rows(data)
    pieces = data.split(b"\n")
    if terminated:
        pieces.pop()
    assert sorted([*taken.positions.tolist(), *taken.left_over]) == list(range(len(pieces)))
    for index, position in enumerate(taken.positions.tolist()):
        piece = pieces[position].removesuffix(b"\r")
        expected = fast.row(piece)
        tail = taken.tails[taken.tail_offsets[index] : taken.tail_offsets[index + 1]]
        got = (taken.keys[index * KEY_SIZE : (index + 1) * KEY_SIZE], int(taken.kinds[index]),
               int(taken.categories[index]), tail)
        assert got == expected, piece


@settings(max_examples=100, deadline=None)
@given(category=st.sampled_from(Category), level=st.sampled_from(RiskLevel),
       reported_at=st.integers(min_value=0, max_value=NOW),
       lifetime=st.one_of(st.none(), st.integers(min_value=1, max_value=MAX_EXPIRY_DAYS * DAY_SECONDS)),
       reference=st.text(alphabet=PLAIN.filter(lambda ch: ch != '"'), max_size=64).map(str.strip),
       kind=st.sampled_from(["phone", "card", "account", "device"]))
def test_the_column_path_takes_plain_valid_rows(category: Category, level: RiskLevel, reported_at: int,
                                               lifetime: int | None, reference: str, kind: str) -> None:
    """A plain valid add row (the bulk of a real feed) is taken, not left to the row-by-row path."""
    expires = "" if lifetime is None else format_timestamp(reported_at + lifetime)
    row = {"action": "add", "entity_type": kind, "identifier": IDENTIFIERS[kind][0], "category": category.feed_name,
           "level": level.feed_name, "reported_at": format_timestamp(reported_at), "expires_at": expires,
           "reference": reference}
    taken = ColumnRows(FIELDS, _fast(FIELDS)).rows((_line(row, FIELDS) + "\n").encode())
    assert taken.positions.tolist() == [0] and taken.left_over == []
    assert EntityType[kind.upper()] == taken.keys[0]


def _spooled(tmp_path: Path, data: bytes, *, columns: bool) -> tuple[Path, int, int, int]:
    feed = tmp_path / f"feed-{columns}.csv"
    header = (",".join(FIELDS) + "\n").encode()
    feed.write_bytes(header + data)
    workdir = tmp_path / f"work-{columns}"
    workdir.mkdir()
    setup = WorkerSetup(feed, "csv", FIELDS, "bank-a", False, "CN", SECRET.key, Settings(), NOW, workdir, workdir)
    chunk = Chunk(0, len(header), len(header) + len(data), 2)  # no layout: into a spool
    if columns:
        result = validate_chunk(setup, chunk)
    else:
        original = parallel.ColumnRows

        class NoColumns:
            def __init__(self, *_: object) -> None:
                pass

            def rows(self, chunk_data: bytes) -> VectorRows:
                count = len(chunk_data.split(b"\n")) - chunk_data.endswith(b"\n")
                empty = np.zeros(0, np.int64)
                return VectorRows(empty, b"", empty.astype(np.uint8), empty.astype(np.uint8), np.zeros(1, np.int64),
                                  b"", list(range(count)))

        parallel.ColumnRows = NoColumns  # type: ignore[assignment,misc]
        try:
            result = validate_chunk(setup, chunk)
        finally:
            parallel.ColumnRows = original  # type: ignore[misc]
    return result.spool, result.rows, result.valid, result.rejected


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(ROWS, min_size=1, max_size=40))
def test_a_chunk_spools_the_same_bytes_with_and_without_the_column_path(rows: list[dict[str, str]]) -> None:
    """Mixed valid, odd and broken lines: the same spool (entries and tails, in line order) and counts."""
    data = "".join(_line(row, FIELDS) + "\n" for row in rows).encode("utf-8")
    with tempfile.TemporaryDirectory() as directory:
        base = Path(directory)
        with_columns = _spooled(base, data, columns=True)
        without = _spooled(base, data, columns=False)
        assert with_columns[1:] == without[1:]
        assert filecmp.cmp(with_columns[0], without[0], shallow=False)
        assert filecmp.cmp(str(with_columns[0]) + ".tail", str(without[0]) + ".tail", shallow=False)


EDGE_TIMESTAMPS = [
    "2020-01-01", "2020-1-01", "2020-01-1", "2020/01/01", "0000-01-01", "1969-12-31", "1970-01-01", "2024-02-29",
    "2023-02-29", "2000-02-29", "1900-02-29", "2020-04-31", "2020-12-31", "2020-13-01", "2020-00-10", "2020-01-00",
    "2020-01-01T00:00:00Z", "2020-01-01T23:59:59Z", "2020-01-01T24:00:00Z", "2020-01-01T23:60:00Z",
    "2020-01-01T23:59:60Z", "2020-01-01t12:00:00Z", "2020-01-01 12:00:00Z", "2020-01-01_12:00:00Z",
    "2020-01-01T12:00:00z", "2020-01-01T12:00:00", "2020-01-01T12:00Z", "2020-01-01T12:00:00.5Z",
    "2020-01-01T12:00:00+08:00", "2020-01-01T12:00:00-08:00", "2020-01-01T12:00:00+23:59", "2020-01-01T12:00:00+24:00",
    "2020-01-01T12:00:00+08:60", "2020-01-01T12:00:00+0800", "2020-01-01T12:00:00+08", "2020-01-01T12:00:00 08:00",
    "2020-01-01T12:00:00+08:00:00", "1970-01-01T00:00:00+00:01", "1970-01-01T00:00:00-00:01", "9999-12-31",
    "2020-01-01T1a:00:00Z", "2020-01-01T12-00-00Z", "202a-01-01", "+020-01-01", " 2020-01-01", "2020-01-01 ",
]


def test_edge_timestamps_are_read_as_fast_rows_reads_them() -> None:
    """Each form, as reported_at and as expires_at, is taken with FastRows' value or left over."""
    fast = _fast(FIELDS)
    lines = []
    for text in EDGE_TIMESTAMPS:
        base = {"action": "add", "entity_type": "phone", "identifier": "+8613800138000", "category": "money_mule",
                "level": "high", "reported_at": text, "expires_at": "", "reference": ""}
        lines.append(_line(base, FIELDS))
        lines.append(_line({**base, "reported_at": "1971-01-01", "expires_at": text}, FIELDS))
    data = "".join(line + "\n" for line in lines).encode()
    taken = ColumnRows(FIELDS, fast).rows(data)
    accepted = {position: index for index, position in enumerate(taken.positions.tolist())}
    for position, line in enumerate(lines):
        expected = fast.row(line.encode())
        if position not in accepted:
            continue
        index = accepted[position]
        tail = taken.tails[taken.tail_offsets[index] : taken.tail_offsets[index + 1]]
        assert (taken.keys[index * KEY_SIZE : (index + 1) * KEY_SIZE], int(taken.kinds[index]),
                int(taken.categories[index]), tail) == expected, line
    taken_by_fast = [position for position, line in enumerate(lines) if fast.row(line.encode()) is not None]
    assert sorted(accepted) == taken_by_fast, "every form FastRows reads is read here too"
