"""Hypothesis properties: a valid row reads the same from CSV and JSONL; a load applies a feed's rows in file order."""

from __future__ import annotations

import csv
import io
import json
import secrets
import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loader_feeds import write_csv, write_jsonl
from stdnum import luhn

from risklist_kernel.digest import Digester
from risklist_kernel.enums import Category, EntityType, RiskLevel
from risklist_kernel.identifiers import Normaliser
from risklist_kernel.secret import NetworkSecret
from risklist_loader.csv_feed import CsvFeed
from risklist_loader.db_sink import DbSink
from risklist_loader.jsonl_feed import JsonlFeed
from risklist_loader.lines import LineReader
from risklist_loader.pipeline import LoadPlan, Validation, run_load
from risklist_loader.rejects import RejectLog
from risklist_loader.rows import FIELDS, FeedRow
from risklist_loader.summary import LoadSummary
from risklist_loader.validate import RowValidator, ValidRow
from risklist_server.core.mutation import Upsert
from risklist_server.core.record import Contribution
from risklist_server.core.settings import Settings
from risklist_server.services.ingest import LoadMode
from risklist_server.store.risk_store import RiskStore

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


# -- A feed says what happened, in order: the store after a load is every row applied one by one -----------------

ORDER_SECRET = NetworkSecret(bytes(range(32)))
SUBJECTS = [(f"+86 138 0013 80{n:02d}", f"138001380{n:02d}") for n in (1, 2, 3)]
"""Three phones, each in two spellings of one number."""
ORDER_CATEGORIES = (Category.TELECOM_FRAUD, Category.MONEY_MULE)


@st.composite
def order_rows(draw: st.DrawFn) -> dict[str, object]:
    """A row about one of a few subjects: an add (live or already expired), a remove of one or every category."""
    subject = draw(st.sampled_from(SUBJECTS))
    row: dict[str, object] = {"action": draw(st.sampled_from(["add", "add", "remove", "Remove"])),
                              "entity_type": "phone", "identifier": draw(st.sampled_from(subject))}
    if row["action"] == "add":
        expired = draw(st.booleans())
        row.update(category=draw(st.sampled_from(ORDER_CATEGORIES)).feed_name,
                   level=draw(st.sampled_from(["low", "critical", "4"])),
                   reported_at="2019-06-01" if expired else "2026-03-01",
                   expires_at="2020-01-01" if expired else draw(st.sampled_from(["2030-01-01", "2031-01-01"])),
                   reference=draw(st.sampled_from(["", "case-1", " case-1 "])))
    elif draw(st.booleans()):
        row["category"] = draw(st.sampled_from(ORDER_CATEGORIES)).feed_name
    return row


Listing = dict[tuple[bytes, Category], Contribution]


def applied_one_by_one(rows: list[dict[str, object]], source: str, listed: Listing) -> Listing:
    """The source's listings after each row in turn: an add lists its category (an add already expired at NOW
    ends it), a remove ends its category or, without one, every category of its subject."""
    listed = dict(listed)
    for row in rows:
        key = Digester(ORDER_SECRET).storage_key(EntityType.PHONE, Normaliser("CN").normalise(
            EntityType.PHONE, str(row["identifier"])))
        category = Category.from_feed_name(str(row["category"])) if row.get("category") else None
        if str(row["action"]).lower() == "add":
            assert category is not None
            contribution = Contribution(source, category, RiskLevel.parse(str(row["level"])),
                                        int(datetime.fromisoformat(str(row["reported_at"]) + "T00:00:00+00:00")
                                            .timestamp()),
                                        int(datetime.fromisoformat(str(row["expires_at"]) + "T00:00:00+00:00")
                                            .timestamp()),
                                        str(row["reference"]).strip())
            if contribution.is_live(NOW):
                listed[key, category] = contribution
            else:
                listed.pop((key, category), None)
        else:
            for slot in [slot for slot in listed if slot[0] == key and category in (None, slot[1])]:
                del listed[slot]
    return listed


def _stored(db: Path) -> tuple[Listing, int]:
    """bank-a's listings in the store, and its list version."""
    with RiskStore(db, create=True, secret_fingerprint=ORDER_SECRET.fingerprint) as store:
        return {(key, c.category): c for key, record in store.iter_records() for c in record
                if c.source == "bank-a"}, store.version


def _run(directory: Path, rows: list[dict[str, object]], feed_format: str, mode: LoadMode, batch_size: int,
         bulk_min_rows: int, name: str) -> LoadSummary:
    """One in-process load of `rows` by bank-a into the store at directory/db."""
    feed = directory / f"{name}.{feed_format}"
    (write_csv if feed_format == "csv" else write_jsonl)(feed, rows)
    plan = LoadPlan(feed, "csv" if feed_format == "csv" else "jsonl", "bank-a", mode, batch_size, 1.0,
                    allow_empty_snapshot=True, log_batches=False, bulk_min_rows=bulk_min_rows)
    work = directory / f"work-{name}"
    work.mkdir()
    sink = DbSink(directory / "db", ORDER_SECRET.fingerprint)
    rejects = RejectLog(None)
    try:
        return run_load(plan, Validation("bank-a", ORDER_SECRET, Settings(), NOW), sink, rejects, work)
    finally:
        sink.close()
        rejects.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prior=st.lists(order_rows(), max_size=6), rows=st.lists(order_rows(), min_size=1, max_size=14),
       feed_format=st.sampled_from(["csv", "jsonl"]), mode=st.sampled_from(list(LoadMode)),
       batch_size=st.integers(1, 4), bulk=st.booleans())
def test_a_feed_leaves_every_row_applied_in_file_order_and_a_reload_changes_nothing(
    prior: list[dict[str, object]], rows: list[dict[str, object]], feed_format: str, mode: LoadMode,
    batch_size: int, bulk: bool
) -> None:
    """Whatever the source listed before, the path (batch or bulk, fast or general rows, CSV or JSONL) and the
    batch size, the source's listings after a load are its rows applied one by one (a snapshot: from nothing);
    loading the same feed again adds nothing, removes nothing and leaves the list version where it was."""
    if bulk:
        prior = []  # the bulk path takes an empty store only
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        if prior:
            assert _run(directory, prior, "csv", LoadMode.DELTA, 5, 10**9, "prior").refusal == ""
        before: Listing = _stored(directory / "db")[0] if prior else {}
        first = _run(directory, rows, feed_format, mode, batch_size, 0 if bulk else 10**9, "feed")
        assert first.refusal == "" and first.rejected == 0
        expected = applied_one_by_one(rows, "bank-a", {} if mode is LoadMode.SNAPSHOT else before)
        after, version = _stored(directory / "db")
        assert after == expected
        assert first.accepted == len(rows)
        again = _run(directory, rows, feed_format, mode, batch_size, 0 if bulk else 10**9, "again")
        result = again.result
        assert (result.added, result.removed, result.swept) == (0, 0, 0), again.render()
        assert _stored(directory / "db") == (expected, version)
        assert (again.repeated, again.superseded, again.expired) == (first.repeated, first.superseded, first.expired)
