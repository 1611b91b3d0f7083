"""The benchmark data generator: deterministic, valid, distinct subjects, disjoint misses, the type mix."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from benchmarks import datagen
from benchmarks.datagen import (
    CSV_HEADER,
    generate_rows,
    listed_values,
    miss_values,
    parse_count,
    write_csv,
)
from risklist_kernel.digest import Digester
from risklist_kernel.enums import EntityType
from risklist_kernel.identifiers import Normaliser
from risklist_kernel.secret import NetworkSecret
from risklist_loader.rows import FeedRow as LoaderRow
from risklist_loader.validate import RowValidator, ValidRow
from risklist_server.core.settings import Settings
from tests.support.paths import REPO

ROOT = REPO
ENTRIES = 20_000
SECRET = NetworkSecret(bytes(range(32)))
NORMALISER = Normaliser("CN")
DIGESTER = Digester(SECRET)
MIX = {"account": 0.50, "card": 0.20, "device": 0.15, "phone": 0.10, "id_number": 0.02, "ip": 0.02,
       "email": 0.01}


def _key(entity_type: str, raw: str) -> bytes:
    kind = EntityType.from_feed_name(entity_type)
    return DIGESTER.storage_key(kind, NORMALISER.normalise(kind, raw))


@pytest.fixture(scope="module")
def subjects() -> dict[bytes, set[str]]:
    """Storage key -> sources of every generated row, after checking each row with the loader's validator."""
    validator = RowValidator("bench-bank", NORMALISER, DIGESTER, Settings(), int(time.time()))
    found: dict[bytes, set[str]] = {}
    dedupe: set[bytes] = set()
    for line, row in enumerate(generate_rows(ENTRIES, 7), start=2):
        checked = validator.validate(LoaderRow(line, row.values()))
        assert isinstance(checked, ValidRow), (row, checked)
        assert checked.dedupe_key not in dedupe, row
        dedupe.add(checked.dedupe_key)
        found.setdefault(checked.mutation.key, set()).add(row.source)
    return found


def test_same_seed_same_rows() -> None:
    """Two generations with one seed are identical; another seed differs."""
    assert list(generate_rows(3000, 5)) == list(generate_rows(3000, 5))
    assert list(generate_rows(3000, 5)) != list(generate_rows(3000, 6))


def test_prefix_of_a_larger_generation() -> None:
    """Subject i does not depend on the size: a small feed's first reports open a larger one's."""
    small = list(generate_rows(4096, 3))
    large = list(generate_rows(3 * 4096, 3))[: len(small)]
    assert small == large


def test_every_row_is_valid_and_subjects_are_distinct(subjects: dict[bytes, set[str]]) -> None:
    """Every row passes the loader's validator, no two rows are duplicates, and there are exactly `entries` subjects."""
    assert len(subjects) == ENTRIES


def test_overlap_reports_come_from_a_second_source(subjects: dict[bytes, set[str]]) -> None:
    """About 10% of subjects are reported by two different sources, and five sources take part."""
    twice = sum(1 for sources in subjects.values() if len(sources) == 2)
    assert 0.08 * ENTRIES < twice < 0.12 * ENTRIES
    assert len(set().union(*subjects.values())) == 5
    assert all(len(sources) <= 2 for sources in subjects.values())


def test_type_mix_within_tolerance() -> None:
    """The entity types of the subjects follow 50/20/15/10 and 5% the rest."""
    counts = Counter(row.entity_type for row in generate_rows(ENTRIES, 11, overlap=0.0))
    for name, share in MIX.items():
        assert abs(counts[name] / ENTRIES - share) < 0.01, (name, counts[name])


def test_misses_are_disjoint_from_listed(subjects: dict[bytes, set[str]]) -> None:
    """No miss value normalises to a generated subject, misses are distinct, and they keep the mix."""
    misses = miss_values(20_000, 7)
    keys = {_key(entity_type, raw) for entity_type, raw in misses}
    assert len(keys) == len(misses)
    assert not keys & subjects.keys()
    counts = Counter(entity_type for entity_type, _ in misses)
    assert abs(counts["account"] / len(misses) - 0.5) < 0.02


def test_listed_values_are_subjects_and_skewed(subjects: dict[bytes, set[str]]) -> None:
    """Every listed value is a generated subject, and a few hot subjects take a large share of the hits."""
    hits = listed_values(ENTRIES, 7, 5000)
    keys = [_key(entity_type, raw) for entity_type, raw in hits]
    assert all(key in subjects for key in keys)
    top = Counter(keys).most_common(10)
    assert sum(count for _, count in top) > 0.1 * len(keys)
    assert listed_values(ENTRIES, 7, 50) == listed_values(ENTRIES, 7, 50)


def test_csv_fields_need_no_quoting() -> None:
    """No generated field holds a comma, a quote or a line break, so lines are plain comma joins."""
    for row in generate_rows(5000, 2):
        assert not any(ch in field for field in row for ch in ',"\n\r')


def test_write_csv_counts_rows(tmp_path: Path) -> None:
    """write_csv writes the header and one line per row and returns the row count."""
    path = tmp_path / "feed.csv"
    rows = list(generate_rows(1000, 4))
    assert write_csv(path, rows) == len(rows)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == CSV_HEADER
    assert lines[1:] == [row.csv_line() for row in rows]


@pytest.mark.parametrize(("text", "count"), [("2500", 2500), ("100k", 100_000), ("10M", 10_000_000),
                                             ("1.5m", 1_500_000)])
def test_parse_count(text: str, count: int) -> None:
    """Counts accept k/M suffixes."""
    assert parse_count(text) == count


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "benchmarks.datagen", *args], capture_output=True, text=True,
                          check=False, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_cli_matches_write_csv(tmp_path: Path) -> None:
    """The parallel CLI writes exactly what write_csv writes for the same arguments."""
    out = tmp_path / "cli.csv"
    done = _run_cli("--entries", "10k", "--seed", "3", "--out", str(out))
    assert done.returncode == 0, done.stderr
    expected = tmp_path / "expected.csv"
    write_csv(expected, generate_rows(10_000, 3))
    assert out.read_bytes() == expected.read_bytes()


def test_cli_per_source_files(tmp_path: Path) -> None:
    """--per-source splits the rows into one file per source, together holding every row."""
    out = tmp_path / "feed.csv"
    done = _run_cli("--entries", "5000", "--seed", "3", "--out", str(out), "--per-source")
    assert done.returncode == 0, done.stderr
    files = sorted(tmp_path.glob("feed.*.csv"))
    assert len(files) == 5
    lines = [line for path in files for line in path.read_text().splitlines()[1:]]
    assert sorted(lines) == sorted(row.csv_line() for row in generate_rows(5000, 3))


def test_rows_are_dated_within_two_years_before_the_anchor_month() -> None:
    """Rows' dates follow datagen.ANCHOR (the first of the current month), not a fixed day, so the share of
    rows already expired at load time does not grow as the calendar moves on."""
    anchor = datagen.ANCHOR
    assert anchor.day == 1 and (datetime.now(UTC).date() - anchor).days < 32
    days = {datetime.strptime(row.reported_at[:10], "%Y-%m-%d").date() for row in generate_rows(2000, 3)}
    assert max(days) < anchor and min(days) >= anchor - timedelta(days=731)
