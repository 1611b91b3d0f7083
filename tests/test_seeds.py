"""seeds/: the committed feeds are exactly what seeds/generate.py writes, and they hold what the demo needs."""

from __future__ import annotations

import csv
import dataclasses
import json
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from risklist_kernel.digest import Digester
from risklist_kernel.enums import Category, EntityType, RiskLevel
from risklist_kernel.errors import InvalidIdentifier
from risklist_kernel.identifiers import Normaliser
from risklist_kernel.secret import NetworkSecret
from risklist_loader.db_sink import DbSink
from risklist_loader.pipeline import LoadPlan, Validation, run_load
from risklist_loader.rejects import RejectLog
from risklist_server.core.settings import Settings
from risklist_server.core.verdict import Verdict, aggregate
from risklist_server.services.ingest import LoadMode
from seeds.generate import TODAY, shifted
from tests.support.paths import REPO

SEEDS = REPO / "seeds"
DEMO_PHONE = "+8613800138000"
NORMALISER = Normaliser("CN")


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh run of the generator into a temporary directory."""
    out = tmp_path_factory.mktemp("seeds")
    subprocess.run(
        [sys.executable, str(SEEDS / "generate.py"), "--out", str(out)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return out


def committed_outputs() -> list[str]:
    """Every file in seeds/ except the generator itself."""
    return sorted(p.name for p in SEEDS.iterdir() if p.is_file() and p.name != "generate.py")


def test_generator_output_is_byte_identical_to_the_committed_seeds(regenerated: Path) -> None:
    """Regenerating gives exactly the committed files, byte for byte, and no others."""
    assert sorted(p.name for p in regenerated.iterdir()) == committed_outputs()
    for name in committed_outputs():
        assert (regenerated / name).read_bytes() == (SEEDS / name).read_bytes(), f"seeds/{name} drifted"


def feed_rows(path: Path) -> list[tuple[int, dict[str, object]]]:
    """(physical line, row) for every data row of a CSV or JSONL feed."""
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as handle:
            return [(index + 2, dict(row)) for index, row in enumerate(csv.DictReader(handle))]
    lines = path.read_text(encoding="utf-8").splitlines()
    return [(index + 1, json.loads(line)) for index, line in enumerate(lines)]


def documented_bad_lines() -> dict[str, set[int]]:
    """file name -> the line numbers seeds/README.md lists as deliberately bad."""
    found: dict[str, set[int]] = {}
    pattern = re.compile(r"^\| `([\w.-]+\.(?:csv|jsonl))` \| (\d+) \|", re.MULTILINE)
    for name, line in pattern.findall((SEEDS / "README.md").read_text(encoding="utf-8")):
        found.setdefault(name, set()).add(int(line))
    return found


FEEDS = sorted(p.name for p in SEEDS.glob("*.csv")) + sorted(p.name for p in SEEDS.glob("*.jsonl"))


def test_three_banks_each_in_both_formats() -> None:
    """Each of the three fictional banks has a CSV and a JSONL feed."""
    banks = {"east-harbour-bank", "jade-river-bank", "north-plains-credit"}
    assert sorted(f"{b}.csv" for b in banks) + sorted(f"{b}.jsonl" for b in banks) == FEEDS


@pytest.mark.parametrize("name", FEEDS)
def test_rows_outside_the_documented_bad_lines_are_valid(name: str) -> None:
    """Every row not listed as bad has a valid action, type, identifier, category and level."""
    bad = documented_bad_lines()[name]
    rows = feed_rows(SEEDS / name)
    assert 2 <= len(bad) <= 6 and len(bad) / len(rows) < 0.05  # a repeated row is not bad (docs/feeds.md §4)
    for line, row in rows:
        if line in bad:
            continue
        entity_type = EntityType.from_feed_name(str(row["entity_type"]))
        NORMALISER.normalise(entity_type, str(row["identifier"]))
        assert row["action"] in ("add", "remove"), line
        if row["action"] == "add":
            Category.from_feed_name(str(row["category"]))
            RiskLevel.parse(str(row["level"]))
            assert len(str(row.get("reference") or "")) <= 64, line


def test_demo_phone_is_listed_high_by_two_banks_and_never_removed() -> None:
    """`make serve`'s example phone is added high/critical by at least two banks and removed by none."""
    listing_banks = set()
    for name in FEEDS:
        for _, row in feed_rows(SEEDS / name):
            if row["entity_type"] != "phone":
                continue
            try:
                canonical = NORMALISER.normalise(EntityType.PHONE, str(row["identifier"]))
            except InvalidIdentifier:
                continue
            if canonical != DEMO_PHONE:
                continue
            assert row["action"] == "add", f"{name} removes the demo phone"
            assert RiskLevel.parse(str(row["level"])) >= RiskLevel.HIGH
            listing_banks.add(name.split(".")[0])
    assert len(listing_banks) >= 2


def _generate(out: Path, anchor: date) -> list[Path]:
    """Run the generator as `make demo-store` does: the seeds' rows dated as of `anchor`."""
    subprocess.run([sys.executable, str(SEEDS / "generate.py"), "--anchor", anchor.isoformat(), "--out", str(out)],
                   check=True, capture_output=True, timeout=60)
    return [out / name for name in FEEDS]


def test_an_anchored_copy_moves_every_date_and_nothing_else(tmp_path: Path) -> None:
    """--anchor writes the six feeds only, each row as committed but with its dates moved by the same days."""
    days = (date(2031, 2, 28) - TODAY).days
    written = _generate(tmp_path, date(2031, 2, 28))
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(FEEDS)  # no README: it describes seeds/
    for path in written:
        anchored, committed = feed_rows(path), feed_rows(SEEDS / path.name)
        assert [line for line, _ in anchored] == [line for line, _ in committed]
        for (_, row), (_, original) in zip(anchored, committed, strict=True):
            moved = {name: shifted(str(value), days) if name in ("reported_at", "expires_at") and value else value
                     for name, value in original.items()}
            assert row == moved


@given(moment=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1)),
       offset=st.sampled_from(["", "Z", "+00:00", "+08:00", "-05:30"]), plain=st.booleans(),
       days=st.integers(-20_000, 20_000))
def test_shifting_a_feed_timestamp_moves_its_moment_by_whole_days(moment: datetime, offset: str, plain: bool,
                                                                  days: int) -> None:
    """Whatever its spelling, a shifted timestamp keeps it and names the moment `days` days later (or earlier)."""
    text = moment.date().isoformat() if plain else moment.strftime("%Y-%m-%dT%H:%M:%S") + offset
    moved = shifted(text, days)
    assert moved[10:] == text[10:]
    assert datetime.fromisoformat(moved) - datetime.fromisoformat(text) == timedelta(days=days)


def _demo_verdicts(directory: Path, anchor: date) -> dict[str, dict[tuple[EntityType, str], Verdict]]:
    """Every seed subject's verdict in a store loaded from the feeds as of `anchor`, asked at the start of
    the anchor's day and two days later (the quiet window), with every time moved back to TODAY's dates.

    The loader runs in-process with its clock at the anchor's start, as `risklist-load` would that day;
    no real date is involved anywhere.
    """
    start = int(datetime(anchor.year, anchor.month, anchor.day, tzinfo=UTC).timestamp())
    secret = NetworkSecret(bytes(range(32)))
    sink = DbSink(directory / "db", secret.fingerprint)
    sink.open()
    subjects: set[tuple[EntityType, str]] = set()
    try:
        for feed in _generate(directory / "feeds", anchor):
            plan = LoadPlan(feed, "csv" if feed.suffix == ".csv" else "jsonl", feed.name.split(".")[0],
                            LoadMode.DELTA, batch_size=1000, max_reject_ratio=0.05)
            run_load(plan, Validation(plan.source, secret, Settings(), start), sink, RejectLog(None), directory)
            for _, row in feed_rows(feed):
                try:
                    entity_type = EntityType.from_feed_name(str(row["entity_type"]))
                    subjects.add((entity_type, NORMALISER.normalise(entity_type, str(row["identifier"]))))
                except (InvalidIdentifier, ValueError):
                    continue
        store = sink._store
        assert store is not None
        digester, back = Digester(secret), (anchor - TODAY).days * 86_400
        found: dict[str, dict[tuple[EntityType, str], Verdict]] = {}
        for moment, now in (("start", start), ("two days later", start + 2 * 86_400 - 1)):
            verdicts = {}
            for entity_type, canonical in sorted(subjects):
                record = store.lookup(digester.storage_key(entity_type, canonical))
                verdict = aggregate(record, now) if record is not None else Verdict(listed=False)
                if verdict.listed:
                    verdict = dataclasses.replace(verdict, first_reported=verdict.first_reported - back,
                                                  last_reported=verdict.last_reported - back,
                                                  expires_at=verdict.expires_at - back)
                verdicts[(entity_type, canonical)] = verdict
            found[moment] = verdicts
    finally:
        sink.close()
    return found


def test_the_demo_answers_the_same_whatever_day_it_is_built(tmp_path: Path) -> None:
    """Built as of two dates 30 years apart, the demo gives every seed subject the same verdict (dates moved
    by the anchors' difference), at the start of the anchor's day and two days later alike: its BLOCK for
    the demo phone never turns into REVIEW as the calendar moves on."""
    early = _demo_verdicts(tmp_path / "early", date(2019, 3, 4))
    late = _demo_verdicts(tmp_path / "late", date(2049, 8, 17))
    assert early["start"] == late["start"]
    assert early["two days later"] == early["start"]
    assert late["two days later"] == late["start"]
    verdicts = early["start"]
    phone = verdicts[(EntityType.PHONE, DEMO_PHONE)]
    assert phone.reason_code == "BLOCK_MULTI_SOURCE" and phone.source_count == 3
    listed = [verdict for verdict in verdicts.values() if verdict.listed]
    assert len(listed) > 3000 and len(listed) < len(verdicts)  # some rows expired or were removed
    assert {verdict.reason_code for verdict in listed} == {"BLOCK_MULTI_SOURCE", "REVIEW_HIGH_RISK", "REVIEW_LISTED"}
