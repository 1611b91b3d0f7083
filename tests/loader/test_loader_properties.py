"""Hypothesis properties: a valid row reads the same from CSV and JSONL, and validates."""

from __future__ import annotations

import csv
import io
import json
import secrets
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import luhn

from risklist_kernel.digest import Digester
from risklist_kernel.enums import Category, EntityType, RiskLevel
from risklist_kernel.identifiers import Normaliser
from risklist_kernel.secret import NetworkSecret
from risklist_loader.csv_feed import CsvFeed
from risklist_loader.jsonl_feed import JsonlFeed
from risklist_loader.lines import LineReader
from risklist_loader.rows import FIELDS, FeedRow
from risklist_loader.validate import RowValidator, ValidRow
from risklist_server.core.mutation import Upsert
from risklist_server.core.settings import Settings

NOW = int(datetime(2026, 6, 1, tzinfo=UTC).timestamp())
VALIDATOR = RowValidator("bank-a", Normaliser("CN"), Digester(NetworkSecret(secrets.token_bytes(32))),
                         Settings(), NOW)

identifiers = st.one_of(
    st.tuples(st.just("ip"), st.ip_addresses().map(str)),
    st.tuples(st.just("account"), st.text("0123456789", min_size=4, max_size=34)),
    st.tuples(st.just("card"), st.text("0123456789", min_size=15, max_size=15).map(
        lambda body: "4" + body[1:] + luhn.calc_check_digit("4" + body[1:]))),
    st.tuples(st.just("email"), st.from_regex(r"[a-z][a-z0-9]{0,5}(\.[a-z0-9]{1,5}){0,2}@[a-z]{2,10}\.(com|cn|org)",
                                              fullmatch=True)),
    # All-digit ids of 14-16 digits are IMEIs and need a check digit: keep a letter in.
    st.tuples(st.just("device"), st.text("0123456789abcdef", min_size=7, max_size=31).map(lambda t: "a" + t)),
)


def casing(name: str) -> st.SearchStrategy[str]:
    return st.sampled_from([name, name.upper(), name.title()])


@st.composite
def timestamps(draw: st.DrawFn, earliest: int, latest: int) -> tuple[str, int]:
    """A timestamp's text in some accepted form and its unix second."""
    seconds = draw(st.integers(earliest, latest))
    form = draw(st.sampled_from(["offset", "z", "date"]))
    if form == "date":
        seconds -= seconds % 86_400
        return datetime.fromtimestamp(seconds, UTC).date().isoformat(), seconds
    if form == "z":
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), seconds
    zone = timezone(timedelta(minutes=draw(st.integers(-12 * 60, 14 * 60))))
    return datetime.fromtimestamp(seconds, zone).isoformat(), seconds


@st.composite
def add_rows(draw: st.DrawFn) -> tuple[dict[str, object], int, int | None]:
    entity_type, identifier = draw(identifiers)
    reported_text, reported = draw(timestamps(946_684_800, NOW))
    row: dict[str, object] = {
        "action": draw(casing("add")),
        "entity_type": draw(casing(entity_type)),
        "identifier": identifier,
        "category": draw(st.sampled_from([c.feed_name for c in Category])),
        "level": draw(st.one_of(st.sampled_from([lv.feed_name for lv in RiskLevel]), st.integers(1, 4))),
        "reported_at": reported_text,
    }
    expires: int | None = None
    if draw(st.booleans()):
        expires_text, expires = draw(timestamps(reported + 86_400, reported + 20 * 365 * 86_400))
        row["expires_at"] = expires_text
    if draw(st.booleans()):
        row["reference"] = draw(st.text(st.characters(categories=["L", "N", "P", "Zs"]), max_size=64))
    return row, reported, expires


def from_csv(row: dict[str, object]) -> FeedRow:
    text = io.StringIO()
    writer = csv.DictWriter(text, FIELDS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerow({name: row.get(name, "") for name in FIELDS})
    [read] = list(CsvFeed(LineReader(io.BytesIO(text.getvalue().encode("utf-8")))))
    assert isinstance(read, FeedRow), read
    return read


def from_jsonl(row: dict[str, object]) -> FeedRow:
    [read] = list(JsonlFeed(LineReader(io.BytesIO((json.dumps(row) + "\n").encode("utf-8")))))
    assert isinstance(read, FeedRow), read
    return read


@settings(max_examples=150, deadline=None)
@given(add_rows())
def test_csv_and_jsonl_give_the_same_mutation(case: tuple[dict[str, object], int, int | None]) -> None:
    """A valid add row rendered as CSV and as JSON Lines validates to one and the same upsert."""
    row, reported, expires = case
    via_csv = VALIDATOR.validate(from_csv(row))
    via_jsonl = VALIDATOR.validate(from_jsonl(row))
    assert isinstance(via_csv, ValidRow), via_csv
    assert isinstance(via_jsonl, ValidRow), via_jsonl
    assert via_csv.mutation == via_jsonl.mutation
    assert via_csv.dedupe_key == via_jsonl.dedupe_key
    mutation = via_csv.mutation
    assert isinstance(mutation, Upsert)
    assert mutation.key[0] == EntityType.from_feed_name(str(row["entity_type"]))
    assert mutation.contribution.reported_at == reported
    if expires is not None:
        assert mutation.contribution.expires_at == expires
    assert mutation.contribution.reference == str(row.get("reference", "")).strip()
